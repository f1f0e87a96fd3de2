{#-
    The three instructions SVIT appends to referring questions (SVIT dataset card;
    BAAI-DCAI/DataOptim). Same list, same order as svit/core/facts.py REFERRING_INSTRUCTIONS;
    tests/dbt checks they agree.
-#}
{% macro referring_instructions() -%}
    [
        'Provide the bounding boxes of the mentioned objects.',
        'Include the coordinates for each mentioned object.',
        'Locate the objects with their coordinates.'
    ]
{%- endmacro %}

{#- The instruction of one referring record under var('instruction'): random (by a stable
    hash of the record id and var('seed')), a sentence of the user's own, or none (null). -#}
{% macro referring_instruction(record_id) -%}
    {%- set choice = var('instruction') -%}
    {%- if choice == 'random' -%}
        {{ referring_instructions() }}[
            ('0x' || left(md5({{ record_id }} || ':' || '{{ var("seed") }}'), 8))::bigint % 3 + 1]
    {%- elif choice == 'none' -%}
        null::varchar
    {%- else -%}
        '{{ choice | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- The LLaVA record id of an original block (docs/models.md). -#}
{% macro svit_record_id(task, image_id, block) -%}
    'svit_' || {{ task }} || '_' || {{ image_id }} || '_' || {{ block }}
{%- endmacro %}
