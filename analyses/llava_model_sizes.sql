{#- Per LLaVA model or mix: records, turns, QA pairs (gpt turns), distinct images,
    text-only records (no image) and their share, turns per record. One row per model.
    Models: var `stats_models` (dbt models in LLaVA shape: image, conversations; default
    llava_svit_all) and var `stats_llava_files` (ingested LLaVA files by model name, from
    stg_llava__records / stg_llava__turns; default every file). -#}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set llava_files = var('stats_llava_files', none) %}
{#- A model that is a sorted union of other models (llava_svit_all: the four task models)
    is read from its parts: statistics do not need the order, and the sort is the costly part. -#}
{%- set model_parts = var('stats_model_parts', {}) %}

with model_records as (
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) %}
    select '{{ m }}' as model, image is not null as has_image, image, len(conversations) as n_turns
    from {{ ref(part) }}
    union all
    {%- endfor %}{% endfor %}
    {%- if llava_files is none or llava_files %}
    select llava_file as model, has_image, image, n_turns
    from {{ ref('stg_llava__records') }}
    {%- if llava_files is not none %}
    where llava_file in ({% for f in llava_files %}'{{ f }}', {% endfor %}null)
    {%- endif %}
    {%- else %}
    select null::varchar as model, null::boolean as has_image, null::varchar as image, null::integer as n_turns
    where false
    {%- endif %}
),

final as (
    select
        model,
        count(*) as records,
        coalesce(sum(n_turns), 0)::bigint as turns,
        coalesce(sum(n_turns // 2), 0)::bigint as qa_pairs,
        count(distinct image) as images,
        count(*) filter (where not has_image) as text_only,
        count(*) filter (where not has_image) / count(*) as text_only_share,
        avg(n_turns) as mean_turns_per_record,
        min(n_turns) as min_turns_per_record,
        max(n_turns) as max_turns_per_record
    from model_records
    group by model
)

select * from final
order by model
