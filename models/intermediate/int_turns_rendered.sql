{#- One row per turn of an original block, as it reads in a LLaVA-1.5 record: `<image>\n`
    opens the first turn, and referring turns lose their <st>/<ed> marks, have their boxes
    rewritten (int_referring_boxes_converted) and their questions end with an instruction.
    The role is already LLaVA's (`human` / `gpt`, stg_svit__turns): BAAI's `user` -> `human`
    happens at ingest. -#}
{%- set baai_box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' -%}

with turns as (
    select * from {{ ref('stg_svit__turns') }}
),

referring as (
    -- Each referring turn with its boxes as found and as converted, and its text with the
    -- converted boxes put in place: the text between the boxes zipped with the rewritten
    -- boxes (one fewer: concat reads the last null as ''). Zipped, not indexed from inside the
    -- lambda: a lambda that reads a column of its row copies it for every element, several
    -- times slower. Zipped for every turn here rather than inside the CASE below, which
    -- made it slower still (bench/README.md, "The referring boxes converted in their turn").
    select
        'referring_qa' as task,
        image_id,
        block,
        turn,
        role,
        stripped,
        width,
        height,
        originals,
        converted,
        array_to_string(
            list_transform(
                list_zip(regexp_split_to_array(stripped, '{{ baai_box }}'), converted),
                lambda pair: concat(pair[1], pair[2])
            ),
            ''
        ) as rewritten_in_place
    from {{ ref('int_referring_boxes_converted') }}
),

referring_rewritten as (
    select
        task,
        image_id,
        block,
        turn,
        role,
        case
            when converted is null or len(originals) = 0 then stripped
            -- BAAI rewrites with str.replace, box after box: when a rewritten box reads like
            -- another box of the turn, that one is rewritten again. Such turns (rare) go
            -- through BAAI's own code, as do turns with a box past the image's side (no
            -- converted text); every other turn is rewritten in place.
            when
                (list_has_any(converted, originals) and converted <> originals)
                or list_count(converted) < len(converted)
                then svit_expand_boxes_baai(stripped, width, height)
            else rewritten_in_place
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
