{#- Words and characters per question and per answer, per SVIT task: count, mean, std,
    min, p5/p25/p50/p75/p95, max and a 10-bin histogram (equal-width bins from min to max,
    the last bin closed; the shape Hugging Face's dataset viewer shows). One row per task,
    role and measure.

    Words are runs of characters other than ASCII whitespace (space, tab, newline, CR, VT,
    FF), LLaVA's `<image>` token never one of them (macros/word_count.sql); characters are
    Unicode code points (Python's len). The common case (single spaces, no other
    whitespace) is counted without a regex. Roles are human / gpt (stg_svit__turns). The
    turns are measured once per run (macros/svit_turn_measures.sql). -#}

with measured as (
    select
        task as scope,
        kind,
        words,
        chars
    from {{ svit_turn_measures() }} as turns
),

frequencies as (
    {{ turn_length_frequencies('measured') }}
),

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by
    list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], scope), scope, measure
