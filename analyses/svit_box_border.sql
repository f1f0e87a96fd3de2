{#- Boxes touching the image border: a coordinate equal to 0 or 1 (the box reaches the
    left, top, right or bottom edge). One row per task with boxes. -#}

with boxes as (
    select
        task,
        x1,
        y1,
        x2,
        y2
    from {{ ref('stg_svit__boxes') }}
),

final as (
    select
        task,
        count(*) as boxes,
        count(*) filter (where x1 = 0 or y1 = 0 or x2 = 1 or y2 = 1) as touching_border,
        count(*) filter (where x1 = 0 or y1 = 0 or x2 = 1 or y2 = 1) / count(*) as touching_share,
        count(*) filter (where x1 = 0) as touching_left,
        count(*) filter (where y1 = 0) as touching_top,
        count(*) filter (where x2 = 1) as touching_right,
        count(*) filter (where y2 = 1) as touching_bottom,
        count(*) filter (where x1 = 0 and y1 = 0 and x2 = 1 and y2 = 1) as whole_image
    from boxes
    group by task
)

select * from final
order by task
