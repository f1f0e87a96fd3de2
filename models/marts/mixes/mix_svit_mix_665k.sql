{#- SVIT_mix_665K: LLaVA-1.5's llava_v1_5_mix665k.json (ingested with --llava) with its
    LLaVA-Instruct-150K part replaced by mix_svit_core_150k.

    The LLaVA-Instruct part is every mix record whose id AND turns (role and text, in order)
    equal a record of the ingested llava_instruct_150k.json: ids alone repeat (one image,
    several conversations), and no shape rule tells those records from VQAv2's, which have
    the same 12-digit ids and coco/train2017 images. The core records go, in their own
    order, where the first LLaVA-Instruct record was; every other record keeps its place,
    id (with its JSON type), image (absent or present) and extra keys.

    Without llava_instruct_150k, the mix or the core file ingested, the model is empty (a
    warn test says which is missing) and `svit mix mix_svit_mix_665k` refuses. -#}
{%- set mix_file = 'llava_v1_5_mix665k' -%}
{%- set instruct_file = 'llava_instruct_150k' -%}

with instruct_records as (
    {{ llava_file_records(instruct_file) }}
),

mix_records as (
    -- Only a record whose id is a LLaVA-Instruct id can be one: only those are hashed.
    {{ llava_file_records(mix_file, hash_ids='instruct_records') }}
),

core as (
    select * from {{ ref('mix_svit_core_150k') }}
),

flagged as (
    select
        mix_records.*,
        exists(
            select 1 from instruct_records
            where instruct_records.id = mix_records.id and instruct_records.turns_hash = mix_records.turns_hash
        ) as is_llava_instruct
    from mix_records
),

anchor as (
    -- Where the core records go: the first LLaVA-Instruct record's place. Null (no swap, and
    -- so an empty model) when a part is missing.
    select min(record_index) as first_place
    from flagged
    where is_llava_instruct and exists (select 1 from core)
),

-- The order, numbered on narrow rows (a window over the records would sort all their text):
-- the kept records before the first LLaVA-Instruct place, then the core records in their
-- order, then the kept records after it.
kept_places as (
    select
        record_index,
        row_number() over (order by record_index) - 1 as kept_rank
    from flagged
    where not is_llava_instruct and (select anchor.first_place from anchor) is not null
),

core_places as (
    select
        record_order,
        row_number() over (order by record_order) - 1 as core_rank
    from core
    where (select anchor.first_place from anchor) is not null
),

kept as (
    select
        {{- llava_record_as_mix_row() }},
        {{ image_prefix('image') }} as image_prefix,
        '{{ mix_file }}' as mix_source,
        flagged.record_index as source_record_index,
        kept_places.kept_rank
        + case
            when flagged.record_index > (select anchor.first_place from anchor)
                then (select count(*) from core_places)
            else 0
        end as record_order
    from flagged
    inner join kept_places on flagged.record_index = kept_places.record_index
),

swapped_in as (
    select
        {{- mix_row_columns() }},
        core.image_prefix,
        'mix_svit_core_150k' as mix_source,
        core.source_record_index,
        (
            select count(*) from kept_places
            where kept_places.record_index < (select anchor.first_place from anchor)
        ) + core_places.core_rank as record_order
    from core
    inner join core_places on core.record_order = core_places.record_order
),

final as (
    select
        {{- mix_row_columns(between='record_order') }},
        image_prefix,
        mix_source,
        source_record_index
    from (
        select * from kept
        union all
        select * from swapped_in
    ) as kept_and_swapped_in
)

select * from final
order by record_order
