{#- How often each length occurs, in words and in characters, per scope and kind of turn:
    the rows `distribution_statistics()` summarises. `measured` has one row per turn with
    scope, kind (question / answer), words and chars. svit stats renders this file with the
    analyses. -#}
{% macro turn_length_frequencies(measured) -%}
    select
        scope,
        kind || ' words' as measure,
        words::double as v,
        count(*) as n
    from {{ measured }}
    group by all
    union all
    select
        scope,
        kind || ' chars' as measure,
        chars::double as v,
        count(*) as n
    from {{ measured }}
    group by all
{%- endmacro %}
