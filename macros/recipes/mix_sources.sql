{#-
    The sources of a user recipe (var('mix'), written by `svit mix` from RECIPE.yml), as
    CTEs both models/marts/mixes/mix_user*.sql use:

      source_<i>   every record of the source, in its order, in the mix columns plus the
                   columns a filter may use (mix_filter_columns below);
      filtered_<i> those the recipe's filter keeps.

    A source is a model of this project (`ref`), a mix built earlier (a table of its own,
    kind `relation`) or an ingested LLaVA file (kind `llava_file`).
-#}

{% macro mix_source_ctes(mix) -%}
{%- for source in mix.sources %}
{#- Not materialized: each reader takes only the columns it needs (a materialized copy of a
    source holds all its text, gigabytes at full scale). -#}
source_{{ loop.index }} as not materialized (
    {{ mix_source_rows(source) }}
),

filtered_{{ loop.index }} as not materialized (
    select * from source_{{ loop.index }}
    where ({{ source.filter if source.filter else 'true' }})
),
{% endfor -%}
{%- endmacro %}

{#- One source's records in the mix columns, then the filter columns. -#}
{% macro mix_source_rows(source) -%}
{%- if source.kind == 'llava_file' -%}
with records as (
    {{ llava_file_records(source.name) }}
),

shaped as (
    select
        {{- llava_record_as_mix_row() }},
        record_index as source_position
    from records
)
{%- else -%}
{%- set relation = ref(source.name) if source.kind == 'model'
    else api.Relation.create(database=target.database, schema=target.schema, identifier=source.name) -%}
{%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list if execute else [] -%}
with positions as (
    -- Numbered on the order column alone, then joined: a window over the whole rows would
    -- sort all their text.
    select record_order, row_number() over (order by record_order) - 1 as source_position
    from {{ relation }}
),

shaped as (
    select
        id::varchar as id,
        {{ 'id_json' if 'id_json' in columns else 'to_json(id::varchar)::varchar' }} as id_json,
        {{ 'has_image' if 'has_image' in columns else 'image is not null' }} as has_image,
        image,
        {{ 'extra' if 'extra' in columns else 'null::varchar' }} as extra,
        conversations,
        {%- for column, type in mix_lineage_columns() %}
        {{ column if column in columns else 'null::' ~ type }} as {{ column }},
        {%- endfor %}
        positions.source_position
    from {{ relation }}
    inner join positions using (record_order)
)
{%- endif %}
select
    shaped.*,
    {{ mix_filter_columns('conversations', 'image') }}
from shaped
{%- endmacro %}

{#- The columns a recipe filter can use besides the mix columns (docs/mixes.md): words are
    split on spaces, as the SQL cookbook counts them. -#}
{% macro mix_filter_columns(conversations, image) -%}
    {{ image_prefix(image) }} as image_prefix,
    len({{ conversations }}) as n_turns,
    len({{ conversations }}) // 2 as n_qa,
    coalesce(list_sum(list_transform({{ conversations }}, lambda t: len(string_split(trim(t.value), ' ')))), 0) as words,
    coalesce(list_sum(list_transform(list_filter({{ conversations }}, lambda t: t."from" = 'human'), lambda t: len(string_split(trim(t.value), ' ')))), 0) as human_words,
    coalesce(list_sum(list_transform(list_filter({{ conversations }}, lambda t: t."from" = 'gpt'), lambda t: len(string_split(trim(t.value), ' ')))), 0) as gpt_words,
    regexp_matches(array_to_string(list_transform({{ conversations }}, lambda t: t.value), chr(10)), '\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]') as has_boxes,
    {{ yes_no_answer(conversations) }} as yes_no
{%- endmacro %}

{#- `yes` or `no` when a record's first answer starts with the word (any case), else null:
    the unit `yes_no_ratio` balances and the manifests count. -#}
{% macro yes_no_answer(conversations) -%}
    lower(nullif(regexp_extract({{ conversations }}[2].value, '(?i)^(yes|no)\b', 1), ''))
{%- endmacro %}

{#- How many records a `take` asks for, given the filtered count `n`. -#}
{% macro mix_take_target(source, n) -%}
    {%- if source.take == 'all' -%} {{ n }}
    {%- elif source.take == 'first' -%} least({{ source.n }}, {{ n }})
    {%- elif source.take == 'count' -%} {{ source.n }}
    {%- else -%} round({{ source.fraction }} * {{ n }})::bigint
    {%- endif -%}
{%- endmacro %}
