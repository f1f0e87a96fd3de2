{#-
    The rows of the LLaVA models and files an analysis profiles, each tagged with its model:
    var `stats_models` (dbt models in LLaVA shape: image, conversations; default
    llava_svit_all) and var `stats_llava_files` (ingested LLaVA files by model name; default
    every file). A model that is a sorted union of others (llava_svit_all: the four task
    models, var `stats_model_parts`) is read from its parts: statistics do not need the
    order, and the sort is the costly part. svit stats renders this file with the analyses.
-#}

{#- One row per record: model, has_image, image, n_turns, n_images, n_videos. Without
    `turns`, n_turns is null: an analysis that does not need it reads no turns at all. -#}
{% macro llava_model_records(turns=true) -%}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set llava_files = var('stats_llava_files', none) %}
{%- set model_parts = var('stats_model_parts', {}) %}
{%- set svit_text_parts = var('stats_svit_text_parts', {}) %}
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) %}
    {%- if not turns %}
    select '{{ m }}' as model, image is not null as has_image, image, null::integer as n_turns,
        (image is not null)::integer as n_images, 0 as n_videos
    from {{ ref(part) }}
    {%- elif part in svit_text_parts %}
    -- A task model whose turns are SVIT's, one for one (macros/svit_turn_measures.sql): its
    -- turns counted by its block, not by reading each record's list of turns, text and all.
    select '{{ m }}' as model, r.image is not null as has_image, r.image, c.n_turns,
        (r.image is not null)::integer as n_images, 0 as n_videos
    from {{ ref(part) }} as r
    inner join {{ ref('stg_svit__conversations') }} as c
        on c.task = '{{ svit_text_parts[part] }}' and r.image_id = c.image_id and r.block = c.block
    {%- else %}
    select '{{ m }}' as model, image is not null as has_image, image, len(conversations) as n_turns,
        (image is not null)::integer as n_images, 0 as n_videos
    from {{ ref(part) }}
    {%- endif %}
    union all
    {%- endfor %}{% endfor %}
    {%- if llava_files is none or llava_files %}
    select llava_file as model, has_image, image, n_turns,
        -- A file ingested before records counted their media has one image or none.
        coalesce(n_images, has_image::integer) as n_images, coalesce(n_videos, 0) as n_videos
    from {{ ref('stg_llava__records') }}
    {%- if llava_files is not none %}
    where llava_file in ({% for f in llava_files %}'{{ f }}', {% endfor %}null)
    {%- endif %}
    {%- else %}
    select null::varchar as model, null::boolean as has_image, null::varchar as image, null::integer as n_turns,
        null::integer as n_images, null::integer as n_videos
    where false
    {%- endif %}
{%- endmacro %}

{#- One row per turn of the models being profiled: model, role, text; of every model but the
    parts in `skip_parts`, which the caller reads otherwise. The files' turns are
    llava_file_turns() (macros/llava_turn_measures.sql). -#}
{% macro llava_model_turns(skip_parts=()) -%}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set model_parts = var('stats_model_parts', {}) %}
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) if part not in skip_parts %}
    select '{{ m }}' as model, c."from" as role, c.value as text
    from (select unnest(conversations) as c from {{ ref(part) }})
    union all
    {%- endfor %}{% endfor %}
    select null::varchar as model, null::varchar as role, null::varchar as text
    where false
{%- endmacro %}

{#- Whether `column` names one of the models or files being profiled (the same vars). -#}
{% macro is_profiled_model(column) -%}
{%- set names = var('stats_models', ['llava_svit_all']) + (var('stats_llava_files', none) or []) %}
    {{ column }} in ({% for m in names %}'{{ m }}', {% endfor %}null)
{%- endmacro %}
