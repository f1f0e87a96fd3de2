{#- The LLaVA records of one task: one row per original block, its rendered turns gathered
    into `conversations`. One task at a time keeps the grouping of ~3M turns within memory. -#}
{% macro llava_records_of_task(task) -%}
with conversations as (
    select * from {{ ref('stg_svit__conversations') }}
    where task = '{{ task }}'
),

images as (
    select image_id, image_path from {{ ref('stg_svit__images') }}
),

turns as (
    select * from {{ ref('int_turns_rendered') }}
    where task = '{{ task }}'
),

records as (
    -- Gathered unordered, then sorted by turn within the list: `list(... order by turn)` ran
    -- out of DuckDB's memory limit for conversation and complex_reasoning at 4x the full scale,
    -- where this fits (bench/README.md, "Scaling").
    select
        image_id,
        block,
        list_transform(
            list_sort(list({'turn': turn, 'from': "from", 'value': value})),
            lambda t: {'from': t."from", 'value': t.value}
        ) as conversations
    from turns
    group by image_id, block
),

final as (
    select
        {{ svit_record_id('conversations.task', 'conversations.image_id', 'conversations.block') }} as id,
        images.image_path as image,
        records.conversations,
        conversations.task,
        conversations.image_id,
        conversations.block,
        conversations.source_file,
        conversations.record_index,
        {{ llava_record_order('conversations.task', 'conversations.record_index', 'conversations.block') }} as record_order
    from conversations
    inner join records using (image_id, block)
    left join images using (image_id)
)

select * from final
order by record_order
{%- endmacro %}

{#- The published order as one sortable number: task (conversation, complex_reasoning,
    detail_description, referring_qa), then the image item's place in its file, then the
    block. Fits a BIGINT for up to 2^39 items and 4096 blocks per item. -#}
{% macro llava_record_order(task, record_index, block) -%}
    (list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], {{ task }})::bigint << 51)
    + ({{ record_index }}::bigint << 12) + {{ block }}
{%- endmacro %}

{#- The records of the four task models one after the other, unordered: llava_svit_all sorts
    them; a query that joins them (mix_svit_core_150k) skips that sort of every record. -#}
{% macro llava_svit_task_records() -%}
    {%- for task in ['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'] %}
        select
            id,
            image,
            conversations,
            task,
            image_id,
            block,
            source_file,
            record_index,
            record_order
        from {{ ref('llava_svit_' ~ task) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
