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

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], scope), scope, measure
