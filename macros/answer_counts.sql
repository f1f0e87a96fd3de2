{#-
    The counting blocks the SVIT and LLaVA analyses share; each analysis brings its own
    rows and grouping column (task, or model). svit stats renders this file with the analyses.
-#}

{#- Yes/No balance of the answers in `answers` (columns `group_column`, text): answers whose
    first word is "yes" or "no" (any case, followed by a non-letter or the end), and the yes
    share among them. -#}
{% macro yes_no_balance(answers, group_column) -%}
    select
        {{ group_column }},
        count(*) as answers,
        count(*) filter (where starts = 'yes') as starting_yes,
        count(*) filter (where starts = 'no') as starting_no,
        count(starts) / count(*) as yes_no_share,
        count(*) filter (where starts = 'yes') / nullif(count(starts), 0) as yes_share
    from (
        select
            {{ group_column }},
            case when head = 'yes' or (starts_with(head, 'yes') and not regexp_matches(substr(head, 4, 1), '[a-z]')) then 'yes'
                 when head = 'no' or (starts_with(head, 'no') and not regexp_matches(substr(head, 3, 1), '[a-z]')) then 'no'
            end as starts
        from (select {{ group_column }}, lower(left(text, 4)) as head from {{ answers }})
    )
    group by {{ group_column }}
{%- endmacro %}

{#- Repeats among the texts of `texts` (columns `group_column`, kind, text_hash, n: how
    many turns have that text): turns, distinct texts, texts that occur more than once, and
    the turns that repeat an earlier text (turns - distinct texts). -#}
{% macro repeat_counts(texts, group_column) -%}
    select
        {{ group_column }},
        kind,
        sum(n)::bigint as turns,
        count(*) as distinct_texts,
        count(*) filter (where n > 1) as repeated_texts,
        (sum(n) - count(*))::bigint as repeats,
        (sum(n) - count(*)) / sum(n) as repeat_share,
        max(n) as max_occurrences
    from {{ texts }}
    group by {{ group_column }}, kind
{%- endmacro %}
