{#- One row per referring turn: its text without <st>/<ed>, the boxes BAAI's converter finds in
    it (its regex, in order) and each box moved onto the image padded to a square as BAAI
    published it. Converted inside the turn's own list of boxes: unnested, converted and
    gathered back per turn, the boxes took more than half of the referring model's time
    (bench/README.md, "The referring boxes converted in their turn"). The other groundings
    are written from the boxes table (int_referring_grounded). -#}
{%- set baai_box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' -%}

with turns as (
    select
        image_id,
        block,
        turn,
        role,
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

found as (
    select
        turns.image_id,
        turns.block,
        turns.turn,
        turns.role,
        turns.stripped,
        images.width,
        images.height,
        -- expand2square pads the shorter side equally: a box moves by half the difference.
        greatest(images.width, images.height) as side,
        case when images.height > images.width then (images.height - images.width) // 2 else 0 end as pad_x,
        case when images.width > images.height then (images.width - images.height) // 2 else 0 end as pad_y,
        regexp_extract_all(turns.stripped, '{{ baai_box }}') as originals
    from turns
    left join images using (image_id)
),

numbers as (
    -- The JSON parser reads `[0.526, 0.152, ...]` several times faster than casting each
    -- number; Python's float() also takes `.5`, which JSON does not: cast those.
    select
        *,
        list_transform(
            originals,
            -- `b` and `s` are the lambdas' parameters, which sqlfluff takes for unqualified columns.
            lambda b: coalesce(  -- noqa: RF02
                try(json_transform(b, '["DOUBLE"]')),  -- noqa: RF02
                list_transform(string_split(b[2:-2], ', '), lambda s: s::double)  -- noqa: RF02
            )
        ) as coordinates
    from found
),

padded as (
    -- Python's round(v * W), ties to even on the exact double, then the padding.
    select
        *,
        list_transform(
            coordinates,
            lambda v: [  -- noqa: RF02
                round_even(v[1] * width, 0)::bigint + pad_x,  -- noqa: RF02
                round_even(v[2] * height, 0)::bigint + pad_y,  -- noqa: RF02
                round_even(v[3] * width, 0)::bigint + pad_x,  -- noqa: RF02
                round_even(v[4] * height, 0)::bigint + pad_y  -- noqa: RF02
            ]
        ) as pixels
    from numbers
),

thousandths as (
    -- round(p / side, 3), as thousandths.
    select
        *,
        list_transform(
            pixels,
            -- The macro's lines are its own (sqlfluff cannot place them). -- noqa: disable=LT02
            lambda p: [  -- noqa: RF02
                {{ python_round_to_thousandths('p[1]', 'side') }},
                {{ python_round_to_thousandths('p[2]', 'side') }},
                {{ python_round_to_thousandths('p[3]', 'side') }},
                {{ python_round_to_thousandths('p[4]', 'side') }}
            ]
            -- noqa: enable=LT02
        ) as per_mille
    from padded
),

final as (
    select
        image_id,
        block,
        turn,
        role,
        stripped,
        width,
        height,
        originals,
        -- Null where the image has no size: the turn's boxes cannot be moved.
        case when side is not null then list_transform(
            per_mille,
            -- noqa: disable=LT02
            lambda k: '['  -- noqa: RF02
            || {{ python_repr_thousandths('k[1]') }} || ', '
            || {{ python_repr_thousandths('k[2]') }} || ', '
            || {{ python_repr_thousandths('k[3]') }} || ', '
            || {{ python_repr_thousandths('k[4]') }} || ']'
            -- noqa: enable=LT02
        ) end as converted
    from thousandths
)

select * from final
