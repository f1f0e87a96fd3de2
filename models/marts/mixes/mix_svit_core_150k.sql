{#- SVIT_core_150K rebuilt from the warehouse: the members of the official file (ingested
    from format/llava-v1.5, model name svit_core_150k), each matched by content to the SVIT
    block it was made from and written from that block as the LLaVA models write it. The
    official id and instruction are kept (BAAI's random choice cannot be regenerated);
    `instruction: none` or a sentence of your own replaces it. Order: the official file's. Official records no block reads the same as are left out and
    reported (the warn test on this model, and the mix manifest). -#}
{%- set official_file = 'svit_core_150k' -%}

with official as (
    select * from {{ ref('stg_llava__records') }}
    where llava_file::varchar = '{{ official_file }}'
),

matched as (
    select
        record_index,
        derived_id,
        instruction
    from {{ ref('int_svit_core_150k_matched') }}
    where derived_id is not null
),

derived as (
    -- The task models, not llava_svit_all: its sort of every record is not needed here.
    {{ llava_svit_task_records() }}
),

final as (
    select
        official.id,
        official.id_json,
        official.has_image,
        derived.image,
        official.extra,
        official.media,
        {% if var('instruction') == 'random' -%}
            case
                when derived.task = 'referring_qa'
                    then {{ with_instruction('derived.conversations', 'matched.instruction') }}
                else derived.conversations
            end as conversations,
        {%- else -%}
        derived.conversations,
        {%- endif %}
        official.record_index as record_order,
        derived.task,
        derived.image_id,
        derived.block,
        derived.source_file,
        derived.record_index,
        {{ image_prefix('derived.image') }} as image_prefix,
        '{{ official_file }}' as mix_source,
        official.record_index as source_record_index,
        official.record_index as official_record_index,
        derived.id as derived_id
    from official
    inner join matched using (record_index)
    inner join derived on matched.derived_id = derived.id
)

select * from final
order by record_order
