{#- Per LLaVA model or mix: duplicate questions (human turns) and answers (gpt turns), as
    svit_duplicates counts them; the `<image>` token and the newline beside it are
    removed first so a question counts the same wherever the token stands; texts are
    compared by their 64-bit hash, as in svit_duplicates.
    Models: var `stats_models` (dbt models in LLaVA shape; default llava_svit_all) and var
    `stats_llava_files` (ingested LLaVA files by model name; default every file). -#}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set llava_files = var('stats_llava_files', none) %}
{#- A model that is a sorted union of other models (llava_svit_all: the four task models)
    is read from its parts: statistics do not need the order, and the sort is the costly part. -#}
{%- set model_parts = var('stats_model_parts', {}) %}

with model_turns as (
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) %}
    select '{{ m }}' as model, c."from" as role, c.value as text
    from (select unnest(conversations) as c from {{ ref(part) }})
    union all
    {%- endfor %}{% endfor %}
    {%- if llava_files is none or llava_files %}
    select llava_file as model, role, text
    from {{ ref('stg_llava__turns') }}
    {%- if llava_files is not none %}
    where llava_file in ({% for f in llava_files %}'{{ f }}', {% endfor %}null)
    {%- endif %}
    {%- else %}
    select null::varchar as model, null::varchar as role, null::varchar as text
    where false
    {%- endif %}
),

texts as (
    select
        model,
        case role when 'human' then 'question' else 'answer' end as kind,
        hash(case when contains(text, '<image>')
                  then trim(replace(replace(replace(text, '<image>' || chr(10), ''), chr(10) || '<image>', ''), '<image>', ''))
                  else text end) as text_hash,
        count(*) as n
    from model_turns
    group by all
),

final as (
    select
        model,
        kind,
        sum(n)::bigint as turns,
        count(*) as distinct_texts,
        count(*) filter (where n > 1) as repeated_texts,
        (sum(n) - count(*))::bigint as repeats,
        (sum(n) - count(*)) / sum(n) as repeat_share,
        max(n) as max_occurrences
    from texts
    group by model, kind
)

select * from final
order by model, kind desc
