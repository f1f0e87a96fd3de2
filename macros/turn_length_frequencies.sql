{#- How often each length occurs, in words and in characters, per scope and kind of turn:
    the rows `distribution_statistics()` summarises. `measured` has one row per turn with
    scope, kind (question / answer), words and chars; it is read once, into one row per
    distinct (words, chars) pair, which both measures are summed from. svit stats renders
    this file with the analyses. -#}
{% macro turn_length_frequencies(measured) -%}
    select
        counted.scope,
        counted.kind || ' ' || units.unit as measure,
        (case units.unit when 'words' then counted.words else counted.chars end)::double as v,
        sum(counted.n)::bigint as n
    from (
        select
            scope,
            kind,
            words,
            chars,
            count(*) as n
        from {{ measured }}
        group by scope, kind, words, chars
    ) as counted
    cross join (values ('words'), ('chars')) as units (unit)
    group by counted.scope, measure, v
{%- endmacro %}
