{#-
    Yes/No answers: the one rule the mixes (`yes_no`, `yes_no_ratio`, the coverage in a
    mix's manifest) and the statistics (svit_yes_no, llava_yes_no) share (docs/mixes.md,
    docs/statistics.md). An answer is a Yes (No) answer when its text begins with "yes"
    ("no") in any case, followed by the end of the text or by a character that is not a
    letter, a combining mark or a digit (Unicode classes L, M, N): "Yes.", "yes,", "NO",
    "No!", "Yes" then a newline, "yes-or-no" count; "Yesterday", "Nope", "yes1", "noé",
    " yes" (a leading space) do not. svit stats renders this file with the analyses; dbt
    loads it for the mix models.
-#}

{#- `yes`, `no` or null for one text (an SQL expression). Two prefix comparisons and, only
    when one holds, a regular expression on one character: cheap on every answer. -#}
{% macro yes_no_of(text) -%}
    case
        when lower(left({{ text }}, 3)) = 'yes' and not regexp_matches(substr({{ text }}, 4, 1), '[\pL\pM\pN]') then 'yes'
        when lower(left({{ text }}, 2)) = 'no' and not regexp_matches(substr({{ text }}, 3, 1), '[\pL\pM\pN]') then 'no'
    end
{%- endmacro %}

{#- `yes`, `no` or null for a record (a LLaVA `conversations` list): the rule applied to its
    first answer, the first turn from `gpt` (null without one). The unit a mix filters on
    (`yes_no`), balances (`yes_no_ratio`) and counts (`yes_records`, `no_records`). -#}
{% macro yes_no_first_answer(conversations) -%}
    {{ yes_no_of('list_filter(' ~ conversations ~ ', lambda t: t."from" = \'gpt\')[1].value') }}
{%- endmacro %}

{#- Per `group_column`, the answers (rows of `answers`, a relation or CTE with a `yes_no`
    column: yes_no_of() of each answer's text) and how many of them are Yes and No answers:
    the statistics' unit is the answer, every answer of a record, not only its first. -#}
{% macro yes_no_answer_counts(answers, group_column) -%}
    select
        {{ group_column }},
        count(*) as answers,
        count(*) filter (where yes_no = 'yes') as yes_answers,
        count(*) filter (where yes_no = 'no') as no_answers,
        count(yes_no) / count(*) as yes_no_share,
        count(*) filter (where yes_no = 'yes') / nullif(count(yes_no), 0) as yes_share
    from {{ answers }}
    group by {{ group_column }}
{%- endmacro %}
