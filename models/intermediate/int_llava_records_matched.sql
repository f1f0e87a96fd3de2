{#- One row per record of every ingested LLaVA file: its content key and the SVIT block that
    reads the same (macros/recipes/content_match.sql), when there is one. `svit verify` and
    the published mixes both match through this model. -#}

with source_turns as (
    select * from {{ ref('stg_svit__turns') }}
),

images as (
    -- Only images some LLaVA record shows: keys are computed for those blocks alone (none
    -- when no LLaVA file was ingested, which keeps `svit build` of SVIT alone fast).
    select
        image_id,
        image_path
    from {{ ref('stg_svit__images') }}
    where image_path in (
        select llava_images.image from {{ ref('stg_llava__records') }} as llava_images
        where llava_images.image is not null
    )
),

blocks as (
    select
        {{ svit_record_id('source_turns.task', 'source_turns.image_id', 'source_turns.block') }} as derived_id,
        source_turns.task,
        {{ content_match_key('images.image_path', 'source_turns.text', 'source_turns.turn') }} as match_key
    from source_turns
    inner join images using (image_id)
    group by source_turns.task, source_turns.image_id, source_turns.block, images.image_path
),

block_keys as (
    -- Two blocks that read the same share a key; either is as good a match (the smaller id).
    select
        match_key,
        min(derived_id) as derived_id,
        arg_min(task, derived_id) as task
    from blocks
    group by match_key
),

llava_turns as (
    -- llava_file as text: where no LLaVA file was ingested the empty table has no `source`
    -- partition, and the staging view's llava_file is then not a string.
    select
        llava_file::varchar as llava_file,
        record_index,
        arg_min(text, turn) as first_turn,
        string_agg(md5({{ content_match_text('text') }}), chr(31) order by turn) as turn_keys
    from {{ ref('stg_llava__turns') }}
    group by llava_file::varchar, record_index
),

llava_records as (
    select
        records.llava_file::varchar as llava_file,
        records.record_index,
        records.id,
        llava_turns.first_turn,
        md5(coalesce(records.image, '') || chr(31) || llava_turns.turn_keys) as match_key
    from {{ ref('stg_llava__records') }} as records
    inner join
        llava_turns
        on llava_turns.llava_file = records.llava_file::varchar and records.record_index = llava_turns.record_index
),

final as (
    select
        llava_records.llava_file,
        llava_records.record_index,
        llava_records.id,
        llava_records.match_key,
        block_keys.derived_id,
        block_keys.task,
        case
            when block_keys.task = 'referring_qa' then {{ instruction_of('llava_records.first_turn') }}
        end as instruction
    from llava_records
    left join block_keys using (match_key)
)

select * from final
