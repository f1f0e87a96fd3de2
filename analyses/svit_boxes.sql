{#- Boxes of referring turns (stg_svit__boxes): boxes per turn, per record and per image
    (every turn, record and image of the task, those without boxes counting 0), box area as
    a share of the image, and aspect ratio (width / height in pixels of the original image;
    boxes of zero height left out). Same columns as svit_text_lengths. -#}

with boxes as (
    select * from {{ ref('stg_svit__boxes') }}
),

images as (
    select image_id, width, height from {{ ref('stg_svit__images') }}
),

turns as (
    select task, image_id, block, turn from {{ ref('stg_svit__turns') }}
    where task in (select distinct task from boxes)
),

per_turn as (
    select t.task, t.image_id, t.block, t.turn, count(b.box_index) as boxes
    from turns as t
    left join boxes as b using (task, image_id, block, turn)
    group by all
),

per_record as (
    select task, image_id, block, sum(boxes) as boxes from per_turn group by all
),

per_image as (
    select task, image_id, sum(boxes) as boxes from per_record group by all
),

observations as (
    select task as scope, 'boxes per turn' as measure, boxes::double as v from per_turn
    union all
    select task, 'boxes per record', boxes::double from per_record
    union all
    select task, 'boxes per image', boxes::double from per_image
    union all
    select task, 'box area (share of image)', (x2 - x1) * (y2 - y1) from boxes
    union all
    select b.task, 'box aspect ratio (w/h)', round((b.x2 - b.x1) * i.width / ((b.y2 - b.y1) * i.height), 2)
    from boxes as b
    inner join images as i using (image_id)
    where b.y2 > b.y1
),

frequencies as (
    select scope, measure, v, count(*) as n from observations group by all
),

{#- From here on the same in every distribution analysis: `frequencies` (scope, measure,
    v, n) holds how many observations have each value, so the statistics below read a few
    thousand rows, not one per turn. Percentiles interpolate linearly between the two
    nearest ranks (numpy's default, DuckDB's quantile_cont); std is the sample std. -#}

totals as (
    select
        scope,
        measure,
        sum(n) as n,
        sum(v * n) / sum(n) as mean,
        case when sum(n) > 1
             then sqrt(greatest(sum(n * v * v) - sum(v * n) * sum(v * n) / sum(n), 0) / (sum(n) - 1)) end as std,
        min(v) as min,
        max(v) as max
    from frequencies
    group by scope, measure
),

ranked as (
    select
        scope,
        measure,
        v,
        sum(n) over (partition by scope, measure order by v rows unbounded preceding) - n as first_rank,
        n
    from frequencies
),

wanted as (
    select
        t.scope,
        t.measure,
        p.p,
        (t.n - 1) * p.p as h
    from totals as t
    cross join (select unnest([0.05, 0.25, 0.5, 0.75, 0.95]) as p) as p
),

percentiles as (
    select
        w.scope,
        w.measure,
        w.p,
        lo.v + (w.h - floor(w.h)) * (hi.v - lo.v) as value
    from wanted as w
    inner join ranked as lo
        on lo.scope = w.scope and lo.measure = w.measure
        and floor(w.h) >= lo.first_rank and floor(w.h) < lo.first_rank + lo.n
    inner join ranked as hi
        on hi.scope = w.scope and hi.measure = w.measure
        and ceil(w.h) >= hi.first_rank and ceil(w.h) < hi.first_rank + hi.n
),

binned as (
    select
        f.scope,
        f.measure,
        case when t.max = t.min then 0
             else least(floor(10 * (f.v - t.min) / (t.max - t.min)), 9)::integer end as bin,
        sum(f.n) as n
    from frequencies as f
    inner join totals as t using (scope, measure)
    group by all
),

histograms as (
    select
        t.scope,
        t.measure,
        list(t.min + k.bin * (t.max - t.min) / 10.0 order by k.bin) as hist_lower,
        list(coalesce(b.n, 0)::bigint order by k.bin) as hist_counts
    from totals as t
    cross join (select range::integer as bin from range(10)) as k
    left join binned as b on b.scope = t.scope and b.measure = t.measure and b.bin = k.bin
    group by t.scope, t.measure
),

final as (
    select
        t.scope,
        t.measure,
        t.n::bigint as n,
        t.mean,
        t.std,
        t.min,
        max(p.value) filter (where p.p = 0.05) as p5,
        max(p.value) filter (where p.p = 0.25) as p25,
        max(p.value) filter (where p.p = 0.5) as p50,
        max(p.value) filter (where p.p = 0.75) as p75,
        max(p.value) filter (where p.p = 0.95) as p95,
        t.max,
        any_value(h.hist_lower) as hist_lower,
        any_value(h.hist_counts) as hist_counts
    from totals as t
    inner join percentiles as p using (scope, measure)
    inner join histograms as h using (scope, measure)
    group by all
)

select * from final
order by scope, list_position(['boxes per turn', 'boxes per record', 'boxes per image', 'box area (share of image)', 'box aspect ratio (w/h)'], measure)
