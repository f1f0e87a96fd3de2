{#- The LLaVA records of one task: one row per original block, its rendered turns gathered
    into `conversations`. Built in slices of the task's image items (task_slices() below), so
    that gathering the turns holds one slice's lists at a time.

    `pairs`: the blocks of one question and its answer get their list from the two turns
    joined side by side, not from the aggregate, which copies every turn's text into its
    lists: for complex_reasoning, whose blocks are all such pairs with long answers, that
    copying was most of the model's time. For the other tasks the pairs gain nothing or cost
    more (bench/README.md, "Build: complex reasoning's pairs"). -#}
{% macro llava_records_of_task(task, pairs=false) -%}
with conversations as (
    select image_id, block, n_turns, source_file, record_index from {{ ref('stg_svit__conversations') }}
    where task = '{{ task }}' and {{ in_slice('record_index') }}
),

images as (
    select image_id, image_path from {{ ref('stg_svit__images') }}
),

turns as (
    -- The slice's range of images: where a turn file holds its images in order (as SVIT's
    -- files are ingested in the sample), the scan skips the row groups outside it, and a
    -- referring turn outside it is not rewritten.
    select * from {{ ref('int_turns_rendered') }}
    where task = '{{ task }}' and {{ in_slice('image_id') }}
),

records as (
    {%- if pairs %}
    -- A block of two turns: its question and its answer, side by side. Its turns are 0 and 1
    -- alone: stg_svit__turns' data tests say every turn is numbered within its block, once.
    select
        conversations.image_id,
        conversations.block,
        conversations.source_file,
        conversations.record_index,
        [
            {'from': question."from", 'value': question.value},
            {'from': answer."from", 'value': answer.value}
        ] as conversations
    from conversations
    inner join turns as question
        on question.image_id = conversations.image_id and question.block = conversations.block and question.turn = 0
    inner join turns as answer
        on answer.image_id = conversations.image_id and answer.block = conversations.block and answer.turn = 1
    where conversations.n_turns = 2
    union all
    {%- endif %}
    -- The turns of the slice's blocks (images of the range may have items outside it), the
    -- block's lineage carried through the grouping: joined to the gathered lists instead,
    -- the blocks made DuckDB build its hash table on the lists.
    -- Gathered unordered, then sorted by turn within the list: `list(... order by turn)` ran
    -- out of DuckDB's memory limit for conversation and complex_reasoning at 4x the full scale,
    -- where this fits (bench/README.md, "Scaling").
    select
        image_id,
        block,
        any_value(conversations.source_file) as source_file,
        any_value(conversations.record_index) as record_index,
        list_transform(
            list_sort(list({'turn': turns.turn, 'from': turns."from", 'value': turns.value})),
            lambda t: {'from': t."from", 'value': t.value}
        ) as conversations
    from turns
    inner join conversations using (image_id, block)
    {%- if pairs %}
    where conversations.n_turns <> 2
    {%- endif %}
    group by image_id, block
),

final as (
    select
        {{ svit_record_id("'" ~ task ~ "'", 'records.image_id', 'records.block') }} as id,
        images.image_path as image,
        records.conversations,
        '{{ task }}' as task,
        records.image_id,
        records.block,
        records.source_file,
        records.record_index,
        {{ llava_record_order("'" ~ task ~ "'", 'records.record_index', 'records.block') }} as record_order
    from records
    left join images using (image_id)
)

select * from final
order by record_order
{%- endmacro %}

{#- How a task model is sliced (macros/materializations/sliced_table.sql): by ranges of image
    items in file order, each slice at most `task_slice_turns` turns (an item is never split),
    so that the slices appended in turn are in the published order. -#}
{% macro task_slices(task) -%}
    {{- return({
        'relation': 'stg_svit__conversations',
        'where': "task = '" ~ task ~ "'",
        'order': 'record_index',
        'weight': 'n_turns',
        'rows': var('task_slice_turns'),
        'ranges': ['record_index', 'image_id'],
    }) -}}
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
