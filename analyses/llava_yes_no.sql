{#- Yes/No answers per LLaVA model or mix: of the answers (every gpt turn), those that are Yes
    and No answers by the rule the mixes use too (macros/yes_no.sql), and the yes share among them.
    Which models: macros/llava_model_rows.sql. -#}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set model_parts = var('stats_model_parts', {}) %}
{%- set svit_text_parts = var('stats_svit_text_parts', {}) %}

with answers as (
    -- A task model whose turns are SVIT's text as it is: its answers as measured once per
    -- run (macros/svit_turn_measures.sql).
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) if part in svit_text_parts %}
    select
        '{{ m }}' as model,
        yes_no
    from ({{ svit_text_part_turns(part, svit_text_parts[part]) }}) as part_turns
    where kind = 'answer'
    union all
    {%- endfor %}{% endfor %}
    select
        model,
        {{ yes_no_of('text') }} as yes_no
    from ({{ llava_model_turns(skip_parts=svit_text_parts) }}) as model_turns
    where role = 'gpt'
    union all
    -- A file's answers as ingest judged them (macros/llava_turn_measures.sql).
    select
        model,
        yes_no
    from ({{ llava_file_turns() }}) as file_turn_rows
    where role = 'gpt'
),

final as (
    {{ yes_no_answer_counts('answers', 'model') }}
)

select * from final
order by model
