{#- One row per turn of an original block, as it reads in a LLaVA-1.5 record: `<image>\n`
    opens the first turn, and referring turns lose their <st>/<ed> marks, have their boxes
    rewritten (int_referring_boxes_converted) and their questions end with an instruction.
    The role is already LLaVA's (`human` / `gpt`, stg_svit__turns): BAAI's `user` -> `human`
    happens at ingest. -#}
{%- set baai_box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' -%}

with turns as (
    select * from {{ ref('stg_svit__turns') }}
),

images as (
    select
        image_id,
        width,
        height
    from {{ ref('stg_svit__images') }}
),

boxes_by_turn as (
    -- Gathered unordered and sorted by box number within each list: two ordered lists per
    -- turn took most of this model's time and memory (bench/README.md). Gathered by a window
    -- over each turn's boxes, kept on its first box, not by GROUP BY: at 4x the full scale the
    -- hash aggregate's lists of box texts, which DuckDB does not spill, ran out of its memory
    -- limit at a setting between two that passed, where the window's partitions spill (the
    -- limits and times: bench/README.md, "The referring boxes gathered by a window").
    select
        image_id,
        block,
        turn,
        list_transform(boxes, lambda b: struct_extract(b, 'original')) as originals,
        list_transform(boxes, lambda b: struct_extract(b, 'converted')) as converted
    from (
        select
            image_id,
            block,
            turn,
            list_sort(
                list({ 'box_number': box_number, 'original': box_text, 'converted': converted_text })
                    over (partition by image_id, block, turn)
            ) as boxes
        from {{ ref('int_referring_boxes_converted') }}
        qualify box_number = min(box_number) over (partition by image_id, block, turn)
    ) as gathered
),

referring as (
    select
        turns.task,
        turns.image_id,
        turns.block,
        turns.turn,
        turns.role,
        boxes_by_turn.originals,
        boxes_by_turn.converted,
        images.width,
        images.height,
        replace(replace(turns.text, '<st>', ''), '<ed>', '') as stripped
    from turns
    left join boxes_by_turn using (image_id, block, turn)
    left join images using (image_id)
    where turns.task = 'referring_qa'
),

referring_rewritten as (
    select
        task,
        image_id,
        block,
        turn,
        role,
        case
            when converted is null then stripped
            -- BAAI rewrites with str.replace, box after box: when a rewritten box reads like
            -- another box of the turn, that one is rewritten again. Such turns (rare) go
            -- through BAAI's own code; every other turn is rewritten in place.
            when list_has_any(converted, originals) and converted <> originals
                then svit_expand_boxes_baai(stripped, width, height)
            -- The text between the boxes zipped with the rewritten boxes (one fewer: concat
            -- reads the last null as ''). Zipped, not indexed from inside the lambda: a lambda
            -- that reads a column of its row copies it for every element, several times slower.
            else array_to_string(
                list_transform(
                    list_zip(regexp_split_to_array(stripped, '{{ baai_box }}'), converted),
                    lambda pair: concat(pair[1], pair[2])
                ),
                ''
            )
        end as body
    from referring
),

rendered as (
    -- Two branches, so a filter on another task never computes the referring rewrite.
    select
        task,
        image_id,
        block,
        turn,
        role,
        text as body
    from turns
    where task <> 'referring_qa'
    union all
    select
        task,
        image_id,
        block,
        turn,
        role,
        body
    from referring_rewritten
),

final as (
    select
        task,
        image_id,
        block,
        turn,
        role as "from",
        case when turn = 0 then '<image>' || chr(10) else '' end
        || body
        || case
            when task = 'referring_qa' and role = 'human'
                then coalesce(' ' || {{ referring_instruction(svit_record_id('task', 'image_id', 'block')) }}, '')
            else ''
        end as value,
        -- The turn's own text in `value`, between the `<image>\n` and the instruction: what
        -- another grounding replaces (int_referring_grounded, macros/grounding.sql).
        body
    from rendered
)

select * from final
