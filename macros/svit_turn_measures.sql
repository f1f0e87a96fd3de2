{#-
    What the statistics measure of every SVIT turn, with the turn's keys: task, image_id,
    block, turn, kind (question / answer), words (stg_svit__turns: counted by ingest as
    macros/word_count.sql counts them), chars (code
    points), text_hash (the 64-bit hash svit_duplicates compares), model_text_hash (below)
    and yes_no (an answer's Yes / No, macros/yes_no.sql; null for a question).
    svit_text_lengths, svit_duplicates and svit_yes_no read them, and so do
    llava_text_lengths, llava_duplicates and llava_yes_no for the task models whose turns are
    SVIT's text as it is (var `stats_svit_text_parts`), so each text is read and counted
    once per run.

    svit stats measures them once per run into a temporary table and names it in var
    `stats_svit_turn_measures`; dbt compile, without the var, writes the select itself.
    svit stats renders this file with the analyses.
-#}
{% macro svit_turn_measures() -%}
{%- set measured = var('stats_svit_turn_measures', none) %}
{%- if measured -%}
    {{ measured }}
{%- else -%}
    (
        select
            task,
            image_id,
            block,
            turn,
            -- Narrow types: the table holds a row per turn beside the analyses, within the
            -- statistics' memory limit. Enum values in alphabetical order, so that they sort
            -- as the text does.
            (case role when 'human' then 'question' else 'answer' end)::enum('answer', 'question') as kind,
            -- Counted once, by ingest (stg_svit__turns).
            words,
            length(text)::integer as chars,
            hash(text) as text_hash,
            -- The hash llava_duplicates compares the turn by in a task model (its
            -- duplicate_text_hash of `<image>\n` || text in a first turn), where it is not text_hash.
            case
                when contains(text, '<image>') then {{ duplicate_text_hash('text') }}
                when turn = 0 then hash(trim(text))
            end as model_text_hash,
            (case when role <> 'human' then {{ yes_no_of('text') }} end)::enum('no', 'yes') as yes_no
        from {{ ref('stg_svit__turns') }}
    )
{%- endif %}
{%- endmacro %}

{#- The turns of a task model whose turns are SVIT's text as it is (`part`, of `task`), as
    svit_turn_measures() holds them: one row per turn of each of the part's records, with
    the record's `image`. The turns are the same text but for the `<image>\n` that opens a
    record's first turn (models/intermediate/int_turns_rendered.sql), so the same words
    (`<image>` is never a word and the newline beside it is whitespace), the characters of
    `<image>\n` more there, no Yes / No answer there (the text begins with `<`), and the hash
    llava_duplicates compares (duplicate_text_hash, macros/answer_counts.sql): it takes the
    token and its newline out, then trims, which in a first turn trims SVIT's text; a text
    that holds the token itself hashes as its own. -#}
{% macro svit_text_part_turns(part, task) -%}
    select
        r.image,
        t.task,
        t.image_id,
        t.block,
        t.kind,
        t.words,
        t.chars + case when t.turn = 0 then length('<image>' || chr(10)) else 0 end as chars,
        case when t.turn <> 0 then t.yes_no end as yes_no,
        coalesce(t.model_text_hash, t.text_hash) as text_hash
    from {{ ref(part) }} as r
    inner join {{ svit_turn_measures() }} as t
        on t.task = '{{ task }}' and r.image_id = t.image_id and r.block = t.block
{%- endmacro %}
