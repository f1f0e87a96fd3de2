{#- One row per box in a referring turn, found as BAAI's converter finds them (its regex, on
    the text with <st>/<ed> removed), moved onto the image padded to a square as BAAI
    published it. The other groundings are written from the boxes table
    (int_referring_grounded). -#}
{%- set baai_box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' -%}

with turns as (
    select
        image_id,
        block,
        turn,
        replace(replace(text, '<st>', ''), '<ed>', '') as stripped
    from {{ ref('stg_svit__turns') }}
    where task = 'referring_qa'
),

images as (
    select
        image_id,
        width,
        height
    from {{ ref('stg_svit__images') }}
),

ties as (
    select
        k,
        rounds_up
    from {{ ref('python_round3_ties') }}
),

found as (
    select
        image_id,
        block,
        turn,
        regexp_extract_all(stripped, '{{ baai_box }}') as box_texts
    from turns
),

boxes as (
    -- The list found once, unnested with its positions (two unnests in one select go in step).
    select
        image_id,
        block,
        turn,
        unnest(box_texts) as box_text,
        unnest(range(1, len(box_texts) + 1)) as box_number
    from found
),

numbers as (
    -- The JSON parser reads `[0.526, 0.152, ...]` several times faster than casting each
    -- number; Python's float() also takes `.5`, which JSON does not: cast those.
    select
        boxes.*,
        images.width,
        images.height,
        coalesce(
            try(json_transform(boxes.box_text, '["DOUBLE"]')),
            -- `s` is the lambda's parameter, which sqlfluff takes for an unqualified column.
            list_transform(string_split(boxes.box_text[2:-2], ', '), lambda s: s::double)  -- noqa: RF02
        ) as v
    from boxes
    inner join images using (image_id)
),

pixels as (
    -- Python's round(v * W): ties to even on the exact double.
    select
        *,
        round_even(v[1] * width, 0)::bigint as px1,
        round_even(v[2] * height, 0)::bigint as py1,
        round_even(v[3] * width, 0)::bigint as px2,
        round_even(v[4] * height, 0)::bigint as py2
    from numbers
),

padded as (
    -- expand2square pads the shorter side equally: shift by half the difference.
    select
        *,
        greatest(width, height) as side,
        px1 + case when height > width then (height - width) // 2 else 0 end as p1,
        py1 + case when width > height then (width - height) // 2 else 0 end as p2,
        px2 + case when height > width then (height - width) // 2 else 0 end as p3,
        py2 + case when width > height then (width - height) // 2 else 0 end as p4
    from pixels
),

padded_with_ties as (
    -- Only a coordinate exactly on a tie looks up the seed (join keys are null otherwise).
    select
        padded.*,
        t1.rounds_up as up1,
        t2.rounds_up as up2,
        t3.rounds_up as up3,
        t4.rounds_up as up4
    from
        padded
    {%- for i in range(1, 5) %}
        left join ties as t{{ i }} on t{{ i }}.k = {{ python_tie_below('p' ~ i, 'side') }}
    {%- endfor %}
),

converted as (
    select
        image_id,
        block,
        turn,
        box_number,
        box_text,
        '[' || {{ python_repr_thousandths(python_round_to_thousandths('p1', 'side', 'up1')) }}
        || ', ' || {{ python_repr_thousandths(python_round_to_thousandths('p2', 'side', 'up2')) }}
        || ', ' || {{ python_repr_thousandths(python_round_to_thousandths('p3', 'side', 'up3')) }}
        || ', ' || {{ python_repr_thousandths(python_round_to_thousandths('p4', 'side', 'up4')) }}
        || ']' as converted_text
    from padded_with_ties
),

final as (
    select
        image_id,
        block,
        turn,
        box_number,
        box_text,
        converted_text
    from converted
)

select * from final
