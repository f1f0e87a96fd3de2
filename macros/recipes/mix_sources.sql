{#-
    The sources of a user recipe (mix_recipe() below, written by `svit mix` from RECIPE.yml), as
    CTEs both models/marts/mixes/mix_user*.sql use:

      source_<i>   every record of the source, in its order, in the mix columns plus the
                   columns a filter may use (mix_filter_columns below);
      dropped_<i>  the records the recipe's drops leave out (source_record, reason), when
                   it has any (macros/recipes/mix_drops.sql);
      filtered_<i> those the recipe's filter keeps, of the records not dropped.

    A source is a model of this project (`ref`), a mix built earlier (a table of its own,
    kind `relation`) or an ingested LLaVA file (kind `llava_file`).
-#}

{#- The recipe `svit mix` builds, as svit/mix/recipe.py checked it (`Recipe.as_var`), while dbt
    runs the mix models; none while it parses them, and none in any other build. It comes in
    the environment variable SVIT_MIX_RECIPE, not as a dbt var: dbt parses the whole project
    again when a var changes, and a file again only when an environment variable it read
    while parsing changes. So the models read this one only when they run, and when they are
    parsed the outline below, which changes only with the mix's name or the models it reads:
    a recipe changed in anything else (seed, take, filter, ...) spares dbt's parse
    (svit/core/settings.py, dbt_environment). -#}
{% macro mix_recipe() -%}
    {{ return(fromjson(env_var('SVIT_MIX_RECIPE', 'null')) if execute else none) }}
{%- endmacro %}

{#- The recipe's outline (`Recipe.as_outline`): the mix's name, which names the tables and
    enables the models, and the models their SQL may `ref`; none outside `svit mix`. -#}
{% macro mix_outline() -%}
    {{ return(fromjson(env_var('SVIT_MIX_OUTLINE', 'null'))) }}
{%- endmacro %}

{#- The outline's models as dependencies of the model that calls this: dbt takes a model's
    dependencies from its parse, where the recipe, and so every other `ref` of the mix's SQL,
    is not read. -#}
{% macro mix_dependencies(outline) -%}
    {%- for name in outline.models %}
-- depends_on: {{ ref(name) }}
    {%- endfor %}
{%- endmacro %}

{% macro mix_source_ctes(mix) -%}
{%- for source in mix.sources %}
{#- Not materialized: each reader takes only the columns it needs (a materialized copy of a
    source holds all its text, gigabytes at full scale). -#}
source_{{ loop.index }} as not materialized (
    {{ mix_source_rows(source) }}
),

{%- if source.drops %}

dropped_{{ loop.index }} as (
    {{ mix_dropped_records(source, loop.index) }}
),
{%- endif %}

filtered_{{ loop.index }} as not materialized (
    select * from source_{{ loop.index }}
    where ({{ source.filter if source.filter else 'true' }})
    {%- if source.drops %}
        and source_record not in (select source_record from dropped_{{ loop.index }})
    {%- endif %}
),
{% endfor -%}
{%- endmacro %}

{#- A model's or earlier mix's records by position in it (0, 1, ... in record_order): how a mix
    row names its source record (source_record_index). Numbered on the order column alone, to
    be joined: a window over the whole rows would sort all their text. -#}
{% macro source_positions(relation) -%}
    select record_order, row_number() over (order by record_order) - 1 as source_position
    from {{ relation }}
{%- endmacro %}

{#- One source's records in the mix columns, then the filter columns. With `numbered=false`,
    without their positions and with image_prefix the only other column: the picked records'
    rows, fetched by source_record (the model's record_order, a file's record_index), so that
    the scan of the source's text is joined to the picks directly (DuckDB then filters the
    scan by them) and no window numbers the records a second time. -#}
{% macro mix_source_rows(source, numbered=true) -%}
{%- if source.kind == 'llava_file' -%}
with records as (
    {{ llava_file_records(source.name) }}
),

shaped as (
    select
        {{- llava_record_as_mix_row() }},
        record_index as source_record,
        record_index as source_position
    from records
)
{%- else -%}
{%- set relation = ref(source.name) if source.kind == 'model'
    else api.Relation.create(database=target.database, schema=target.schema, identifier=source.name) -%}
{%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list if execute else [] -%}
{%- if numbered %}
with positions as (
    {{ source_positions(relation) }}
),
{%- else %}
with
{%- endif %}

shaped as (
    select
        id::varchar as id,
        {{ 'id_json' if 'id_json' in columns else 'to_json(id::varchar)::varchar' }} as id_json,
        {{ 'has_image' if 'has_image' in columns else 'image is not null' }} as has_image,
        image,
        {{ 'extra' if 'extra' in columns else 'null::varchar' }} as extra,
        conversations,
        {{ 'media' if 'media' in columns else 'null::varchar' }} as media,
        {%- for column, type in mix_lineage_columns() %}
        {{ column if column in columns else 'null::' ~ type }} as {{ column }},
        {%- endfor %}
        record_order as source_record
        {%- if numbered %},
        positions.source_position
        {%- endif %}
    from {{ relation }}
    {%- if numbered %}
    inner join positions using (record_order)
    {%- endif %}
)
{%- endif %}
select
    shaped.*,
    {%- if numbered %}
    {{ mix_filter_columns('conversations', 'image') }}
    {%- else %}
    {{ image_prefix('image') }} as image_prefix
    {%- endif %}
from shaped
{%- endmacro %}

{#- The columns a recipe filter can use besides the mix columns (docs/mixes.md, `svit mix
    --help`). Words are counted as the statistics count them (macros/word_count.sql): the
    `<image>` token is never a word. `words`, `human_words` and `gpt_words` are totals over
    a record's turns, the min/max measures per turn. -#}
{% macro mix_filter_columns(conversations, image) -%}
    {{ image_prefix(image) }} as image_prefix,
    len({{ conversations }}) as n_turns,
    len({{ conversations }}) // 2 as n_qa,
    coalesce(list_sum(list_transform({{ conversations }}, lambda t: {{ word_count('t.value') }})), 0) as words,
    {%- for role, total in [('human', 'human_words'), ('gpt', 'gpt_words')] %}
    coalesce(list_sum(list_transform(list_filter({{ conversations }}, lambda t: t."from" = '{{ role }}'),
        lambda t: {{ word_count('t.value') }})), 0) as {{ total }},
    {%- endfor %}
    len(list_filter({{ conversations }}, lambda t: t."from" = 'gpt')) as answers,
    {%- for role, kind in [('gpt', 'answer'), ('human', 'question')] %}
    {%- set texts = "list_transform(list_filter(" ~ conversations ~ ", lambda t: t.\"from\" = '" ~ role ~ "'), "
        ~ "lambda t: t.value)" %}
    {%- set per_turn = "list_transform(" ~ texts ~ ", lambda w: " ~ word_count('w') ~ ")" %}
    list_min({{ per_turn }}) as min_{{ kind }}_words,
    list_max({{ per_turn }}) as max_{{ kind }}_words,
    {%- endfor %}
    regexp_matches(array_to_string(list_transform({{ conversations }}, lambda t: t.value), chr(10)), '\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]') as has_boxes,
    {{ yes_no_first_answer(conversations) }} as yes_no
{%- endmacro %}

{#- How many records a `take` asks for, given the filtered count `n`: the most a source gives
    without `upsample` or `repeat` (fewer when the filter keeps fewer: the source runs short). -#}
{% macro mix_take_asked(source, n) -%}
    {%- if source.take == 'all' -%} {{ n }}
    {%- elif source.take in ('first', 'count') -%} {{ source.n }}
    {%- else -%} round({{ source.fraction }} * {{ n }})::bigint
    {%- endif -%}
{%- endmacro %}

{#- How many distinct records a `take` picks from the `n` filtered ones. -#}
{% macro mix_take_target(source, n) -%}
    least({{ mix_take_asked(source, n) }}, {{ n }})
{%- endmacro %}

{#- How many records (copies included) a source gives from the `picked` distinct ones:
    `upsample: true` repeats them up to what `take` asks, `repeat: k` gives each k times. -#}
{% macro mix_take_total(source, n, picked) -%}
    {%- if source.upsample -%} {{ mix_take_asked(source, n) }}
    {%- elif source.repeat -%} {{ source.repeat }} * {{ picked }}
    {%- else -%} {{ picked }}
    {%- endif -%}
{%- endmacro %}
