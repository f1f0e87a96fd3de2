{#-
    What the statistics measure of a LLaVA file's turns besides its words, which ingest stores
    beside the text (the llava_turns table: chars, duplicate_hash, yes_no) so that svit stats
    reads a few narrow columns instead of every turn's text, three times over. Ingest renders
    llava_turn_measures() into the query that writes the turns, stg_llava__turns into the
    measures of a file written before that; svit stats renders this file with the analyses.
-#}

{#- The measured columns of one turn, an SQL select list: its characters (code points, as
    Python's len), the hash llava_duplicates compares it by (duplicate_text_hash,
    macros/answer_counts.sql) and, for an answer (a `gpt` turn), Yes / No (macros/yes_no.sql;
    null for a question). The hash is DuckDB's: it is compared only among the turns of one
    file, which one ingest writes. -#}
{% macro llava_turn_measures(text, role) -%}
    length({{ text }})::integer as chars,
    {{ duplicate_text_hash(text) }} as duplicate_hash,
    case when {{ role }} = 'gpt' then {{ yes_no_of(text) }} end as yes_no
{%- endmacro %}

{#- One row per turn of the LLaVA files being profiled (var `stats_llava_files`, none for
    every file): model (the file's model name), record_index, role, words and the columns of
    llava_turn_measures(), as stg_llava__turns gives them: stored by ingest, or measured
    there from the text of a file written before ingest measured turns. -#}
{% macro llava_file_turns() -%}
{%- set llava_files = var('stats_llava_files', none) %}
    select llava_file as model, record_index, role, words, chars, duplicate_hash, yes_no
    from {{ ref('stg_llava__turns') }}
    {%- if llava_files is not none %}
    where llava_file in ({% for f in llava_files %}'{{ f }}', {% endfor %}null)
    {%- endif %}
{%- endmacro %}
