{#- Yes/No answers per LLaVA model or mix: of the answers (every gpt turn), those that are Yes
    and No answers by the rule the mixes use too (macros/yes_no.sql), and the yes share among them.
    Which models: macros/llava_model_rows.sql. -#}
with model_turns as (
    {{ llava_model_turns() }}
),

answers as (
    select
        model,
        text
    from model_turns
    where role = 'gpt'
),

final as (
    {{ yes_no_answer_counts('answers', 'model') }}
)

select * from final
order by model
