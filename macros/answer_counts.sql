{#-
    The counting blocks the SVIT and LLaVA analyses share; each analysis brings its own
    rows and grouping column (task, or model). svit stats renders this file with the analyses.
-#}

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

{#- The hash a LLaVA turn's text is compared by: the `<image>` token and the newline beside it
    taken out, so a question counts the same wherever the token stands (llava_duplicates). -#}
{% macro duplicate_text_hash(text) -%}
    hash(case
        when contains({{ text }}, '<image>')
            then
                trim(
                    replace(
                        replace(replace({{ text }}, '<image>' || chr(10), ''), chr(10) || '<image>', ''), '<image>', ''
                    )
                )
        else {{ text }}
    end)
{%- endmacro %}
