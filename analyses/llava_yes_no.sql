{#- Per LLaVA model or mix: Yes/No balance of short answers (gpt turns whose first word is
    "yes" or "no", any case, as in svit_yes_no), and the yes share among them.
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
    {{ yes_no_balance('answers', 'model') }}
)

select * from final
order by model
