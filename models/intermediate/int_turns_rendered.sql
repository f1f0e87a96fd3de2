{#- One row per turn of an original block, as it reads in a LLaVA-1.5 record: `user` becomes
    `human`, `<image>\n` opens the first turn, and referring turns lose their <st>/<ed>
    marks, have their boxes rewritten (int_referring_boxes_converted) and their questions
    end with an instruction. -#}
{%- set baai_box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' -%}

with turns as (
    select * from {{ ref('stg_svit__turns') }}
),

images as (
    select image_id, width, height from {{ ref('stg_svit__images') }}
),

boxes_by_turn as (
    select
        image_id,
        block,
        turn,
        list(box_text order by box_number) as originals,
        list(converted_text order by box_number) as converted
    from {{ ref('int_referring_boxes_converted') }}
    group by image_id, block, turn
),

referring as (
    select
        turns.image_id,
        turns.block,
        turns.turn,
        replace(replace(turns.text, '<st>', ''), '<ed>', '') as stripped,
        boxes_by_turn.originals,
        boxes_by_turn.converted,
        images.width,
        images.height
    from turns
    left join boxes_by_turn using (image_id, block, turn)
    left join images using (image_id)
    where turns.task = 'referring_qa'
),

referring_rewritten as (
    select
        image_id,
        block,
        turn,
        case
            when converted is null then stripped
            {% if var('box_format') == 'padded' -%}
            -- BAAI rewrites with str.replace, box after box: when a rewritten box reads like
            -- another box of the turn, that one is rewritten again. Such turns (rare) go
            -- through BAAI's own code; every other turn is rewritten in place.
            when list_has_any(converted, originals) and converted <> originals
                then svit_expand_boxes_baai(stripped, width, height)
            {% endif -%}
            else array_to_string(
                list_transform(
                    regexp_split_to_array(stripped, '{{ baai_box }}'),
                    lambda piece, i: piece || coalesce(converted[i], '')
                ),
                ''
            )
        end as body
    from referring
),

rendered as (
    select
        turns.task,
        turns.image_id,
        turns.block,
        turns.turn,
        case turns.role when 'user' then 'human' else turns.role end as speaker,
        coalesce(referring_rewritten.body, turns.text) as body
    from turns
    left join referring_rewritten
        on turns.task = 'referring_qa'
        and referring_rewritten.image_id = turns.image_id
        and referring_rewritten.block = turns.block
        and referring_rewritten.turn = turns.turn
),

final as (
    select
        task,
        image_id,
        block,
        turn,
        speaker as "from",
        case when turn = 0 then '<image>' || chr(10) else '' end
            || body
            || case
                when task = 'referring_qa' and speaker = 'human'
                    then coalesce(' ' || {{ referring_instruction(svit_record_id('task', 'image_id', 'block')) }}, '')
                else ''
            end as value
    from rendered
)

select * from final
