{#- Boxes of referring turns (stg_svit__boxes): boxes per turn, per record and per image
    (every turn, record and image of the task, those without boxes counting 0), box area as
    a share of the image, and aspect ratio (width / height in pixels of the original image;
    boxes of zero height left out). Same columns as svit_text_lengths. -#}

with boxes as (
    select * from {{ ref('stg_svit__boxes') }}
),

images as (
    select
        image_id,
        width,
        height
    from {{ ref('stg_svit__images') }}
),

turns as (
    select
        task,
        image_id,
        block,
        turn
    from {{ ref('stg_svit__turns') }}
    where task in (select distinct boxes.task from boxes)
),

per_turn as (
    select
        t.task,
        t.image_id,
        t.block,
        t.turn,
        count(b.box_index) as boxes
    from turns as t
    left join boxes as b using (task, image_id, block, turn)
    group by all
),

per_record as (
    select
        task,
        image_id,
        block,
        sum(boxes) as boxes
    from per_turn
    group by all
),

per_image as (
    select
        task,
        image_id,
        sum(boxes) as boxes
    from per_record
    group by all
),

observations as (
    select
        task as scope,
        'boxes per turn' as measure,
        boxes::double as v
    from per_turn
    union all
    select
        task as scope,
        'boxes per record' as measure,
        boxes::double as v
    from per_record
    union all
    select
        task as scope,
        'boxes per image' as measure,
        boxes::double as v
    from per_image
    union all
    select
        task as scope,
        'box area (share of image)' as measure,
        (x2 - x1) * (y2 - y1) as v
    from boxes
    union all
    select
        b.task as scope,
        'box aspect ratio (w/h)' as measure,
        round((b.x2 - b.x1) * i.width / ((b.y2 - b.y1) * i.height), 2) as v
    from boxes as b
    inner join images as i using (image_id)
    where b.y2 > b.y1
),

frequencies as (
    select
        scope,
        measure,
        v,
        count(*) as n
    from observations
    group by all
),

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by
    scope,
    list_position(
        [
            'boxes per turn',
            'boxes per record',
            'boxes per image',
            'box area (share of image)',
            'box aspect ratio (w/h)'
        ],
        measure
    )
