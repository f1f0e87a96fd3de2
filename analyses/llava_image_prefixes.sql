{#- Per LLaVA model or mix: records by image prefix, the first folder of `image`
    (coco/train2017/... -> coco, vg, gqa, ocr_vqa, textvqa; none = text-only, no image),
    with their share of the model. One row per model and prefix.
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
        coalesce(split_part(image, '/', 1), 'none') as image_prefix,
        count(*) as records,
        count(*) / sum(count(*)) over (partition by model) as share,
        count(distinct image) as images
    from model_records
    group by model, image_prefix
)

select * from final
order by model, records desc, image_prefix
