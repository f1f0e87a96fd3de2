{#-
    What the statistics measure of a LLaVA file's turns besides its words, which ingest stores
    beside the text (the llava_turns table: chars, duplicate_hash, yes_no) so that svit stats
    reads a few narrow columns instead of every turn's text, three times over. Ingest renders
    llava_turn_measures() into the query that writes the turns; svit stats renders this file
    with the analyses.
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
    llava_turn_measures(). svit stats sets var `stats_llava_turns_measured` when every turn
    file holds them (svit/stats/run.py); the rows are then read as ingest stored them, without
    the text. Otherwise (table files written before ingest measured turns, or `dbt compile`)
    they are measured here from the text. -#}
{% macro llava_file_turns() -%}
{%- set llava_files = var('stats_llava_files', none) %}
    {%- if llava_files is not none and not llava_files %}
    select null::varchar as model, null::bigint as record_index, null::varchar as role, null::integer as words,
        null::integer as chars, null::ubigint as duplicate_hash, null::varchar as yes_no
    where false
    {%- else %}
    {%- if var('stats_llava_turns_measured', false) %}
    select source as model, record_index::bigint as record_index, role, words, chars, duplicate_hash, yes_no
    from {{ source('svit', 'llava_turns') }}
    {%- set file_column = 'source' %}
    {%- else %}
    select llava_file as model, record_index, role, words, {{ llava_turn_measures('text', 'role') }}
    from {{ ref('stg_llava__turns') }}
    {%- set file_column = 'llava_file' %}
    {%- endif %}
    {%- if llava_files is not none %}
    where {{ file_column }} in ({% for f in llava_files %}'{{ f }}', {% endfor %}null)
    {%- endif %}
    {%- endif %}
{%- endmacro %}
