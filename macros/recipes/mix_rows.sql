{#-
    The columns a mix row starts with, in one place: the LLaVA record itself (what an export
    writes) and its SVIT lineage (null when the record did not come from a SVIT block). The
    published mixes, the user mix and the recipe sources all build their rows from these, so
    a column added here reaches every mix.
-#}

{#- A LLaVA record's own columns. -#}
{% macro mix_record_columns() -%}
    {{ return(['id', 'id_json', 'has_image', 'image', 'extra', 'conversations', 'media']) }}
{%- endmacro %}

{#- The lineage columns and their types. -#}
{% macro mix_lineage_columns() -%}
    {{ return([('task', 'varchar'), ('image_id', 'bigint'), ('block', 'integer'), ('source_file', 'varchar'), ('record_index', 'bigint')]) }}
{%- endmacro %}

{#- The record columns, then the lineage columns, by name: for selects that pass a mix row on.
    `record_order` may go between the two, where the mix models keep it. -#}
{% macro mix_row_columns(between=none) -%}
    {%- for column in mix_record_columns() %}
    {{ column }},
    {%- endfor %}
    {%- if between %}
    {{ between }},
    {%- endif %}
    {%- for column, _ in mix_lineage_columns() %}
    {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- A record of an ingested LLaVA file (llava_file_records) shaped as a mix row: its own
    columns as they are and no lineage (nothing says which SVIT block, if any, it came from).
    The file's own record_index is not lineage: callers keep it under another name. -#}
{% macro llava_record_as_mix_row() -%}
    {%- for column in mix_record_columns() %}
    {{ column }},
    {%- endfor %}
    {%- for column, type in mix_lineage_columns() %}
    null::{{ type }} as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
