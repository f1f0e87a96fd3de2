{#- One row per referring turn, its text in every grounding syntax but the published one
    (macros/grounding.sql): each `<st>phrase<ed> [box], [box]` mark, found by the offsets
    ingest recorded in `boxes`, rewritten from the boxes' numbers. Beside them, the turn's
    text as the LLaVA models hold it (`text_svit`, with where it starts in the record's
    value), which is what regrounded_records replaces, and the resize limits the Qwen2.5-VL
    boxes were computed with, for the manifests. -#}

with turns as (
    select
        image_id,
        block,
        turn,
        role,
        text
    from {{ ref('stg_svit__turns') }}
    where task = 'referring_qa'
),

published as (
    select
        image_id,
        block,
        turn,
        body as text_svit,
        case when turn = 0 then length('<image>' || chr(10)) else 0 end as body_start
    from {{ ref('int_turns_rendered') }}
    where task = 'referring_qa'
),

images as (
    select
        image_id,
        width,
        height,
        {{ smart_resize('width', 'width', 'height') }} as resized_width,
        {{ smart_resize('height', 'width', 'height') }} as resized_height
    from {{ ref('stg_svit__images') }}
),

marks as (
    -- A mark spans from its `<st>` to the end of its last box (offsets are in characters).
    select
        image_id,
        block,
        turn,
        mark_index,
        any_value(phrase) as phrase,
        min(mark_offset) as span_start,
        max(box_offset + length(box_text)) as span_end,
        list({ 'x1': x1, 'y1': y1, 'x2': x2, 'y2': y2, 'box_text': box_text } order by box_index) as boxes
    from {{ ref('stg_svit__boxes') }}
    where task = 'referring_qa'
    group by image_id, block, turn, mark_index
),

spans as (
    select
        marks.image_id,
        marks.block,
        marks.turn,
        list({
            'span_start': marks.span_start,
            'span_end': marks.span_end,
            {%- for g in grounding_names() %}
                '{{ g }}': {{ grounded_mark(g, 'marks.phrase', 'marks.boxes', 'images.width', 'images.height',
                    'images.resized_width', 'images.resized_height') }}{{ ',' if not loop.last }}
            {%- endfor %}
        } order by marks.mark_index) as spans
    from marks
    inner join images on marks.image_id = images.image_id
    group by marks.image_id, marks.block, marks.turn
),

final as (
    select
        turns.image_id,
        turns.block,
        turns.turn,
        turns.role,
        published.body_start,
        published.text_svit,
        -- sqlfluff's duckdb dialect cannot parse `lambda s, i:` (two parameters) -- noqa: disable=PRS
        {{ spliced_text('turns.text', 'spans.spans', 'original') }} as text_original,
        {{ spliced_text('turns.text', 'spans.spans', 'pixels') }} as text_pixels,
        {{ spliced_text('turns.text', 'spans.spans', 'qwen_vl') }} as text_qwen_vl,
        {{ spliced_text('turns.text', 'spans.spans', 'qwen2_vl') }} as text_qwen2_vl,
        {{ spliced_text('turns.text', 'spans.spans', 'qwen2_5_vl') }} as text_qwen2_5_vl,
        {{ spliced_text('turns.text', 'spans.spans', 'internvl') }} as text_internvl,
        {{ spliced_text('turns.text', 'spans.spans', 'plain_phrase') }} as text_plain_phrase,
        -- noqa: enable=PRS
        {{ var('qwen_min_pixels') }}::bigint as qwen_min_pixels,
        {{ var('qwen_max_pixels') }}::bigint as qwen_max_pixels
    from turns
    inner join published
        on
            turns.image_id = published.image_id
            and turns.block = published.block
            and turns.turn = published.turn
    left join spans
        on
            turns.image_id = spans.image_id
            and turns.block = spans.block
            and turns.turn = spans.turn
)

select * from final
