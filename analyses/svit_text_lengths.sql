{#- Words and characters per question and per answer, per SVIT task: count, mean, std,
    min, p5/p25/p50/p75/p95, max and a 10-bin histogram (equal-width bins from min to max,
    the last bin closed; the shape Hugging Face's dataset viewer shows). One row per task,
    role and measure.

    Words are runs of characters other than ASCII whitespace (space, tab, newline, CR, VT,
    FF); characters are Unicode code points (Python's len). The common case (single spaces,
    no other whitespace) is counted without a regex. -#}

{#- Words of the text `__T__` (the same rule as svit_text_lengths); a newline between two
    words counts as a space (LLaVA's `<image>\n` opens most first turns). -#}
{%- set words -%}
    case
        when __T__ = '' then 0
        when not (contains(__T__, '  ') or contains(__T__, chr(10)) or contains(__T__, chr(9))
                  or contains(__T__, chr(13)) or contains(__T__, chr(11)) or contains(__T__, chr(12))
                  or starts_with(__T__, ' ') or ends_with(__T__, ' '))
            then strlen(__T__) - strlen(replace(__T__, ' ', '')) + 1
        when not (contains(__T__, '  ') or contains(__T__, chr(9)) or contains(__T__, chr(13))
                  or contains(__T__, chr(11)) or contains(__T__, chr(12))
                  or contains(__T__, ' ' || chr(10)) or contains(__T__, chr(10) || ' ') or contains(__T__, chr(10) || chr(10))
                  or starts_with(__T__, ' ') or ends_with(__T__, ' ') or starts_with(__T__, chr(10)) or ends_with(__T__, chr(10)))
            then strlen(__T__) - strlen(replace(__T__, ' ', '')) + strlen(__T__) - strlen(replace(__T__, chr(10), '')) + 1
        else len(regexp_extract_all(__T__, '[^ \t\n\r\x0b\x0c]+'))
    end
{%- endset %}

with turns as (
    select task, role, text from {{ ref('stg_svit__turns') }}
),

measured as materialized (
    select
        task as scope,
        case role when 'user' then 'question' else 'answer' end as kind,
        {{ words | replace('__T__', 'text') }} as words,
        length(text) as chars
    from turns
),

frequencies as (
    select scope, kind || ' words' as measure, words::double as v, count(*) as n
    from measured
    group by all
    union all
    select scope, kind || ' chars' as measure, chars::double as v, count(*) as n
    from measured
    group by all
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
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], scope), scope, measure
