{#-
    The statistics of one distribution analysis, as CTEs ending in `final`: from a CTE
    `frequencies` (scope, measure, v, n) holding how many observations have each value, so
    they read a few thousand rows, not one per turn. Percentiles interpolate linearly
    between the two nearest ranks (numpy's default, DuckDB's quantile_cont); std is the
    sample std; the histogram has 10 equal-width bins from min to max. hist_values and
    hist_value_counts are the frequencies themselves (each value, in order, and its count),
    which svit stats re-bins so that the plots it overlays share their bins. Used by the
    analyses (svit stats renders this file with them).
-#}
{% macro distribution_statistics() -%}
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

value_lists as (
    select
        scope,
        measure,
        list(v order by v) as hist_values,
        list(n::bigint order by v) as hist_value_counts
    from frequencies
    group by scope, measure
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
        any_value(h.hist_counts) as hist_counts,
        any_value(vl.hist_values) as hist_values,
        any_value(vl.hist_value_counts) as hist_value_counts
    from totals as t
    inner join percentiles as p using (scope, measure)
    inner join histograms as h using (scope, measure)
    inner join value_lists as vl using (scope, measure)
    group by all
)
{%- endmacro %}
