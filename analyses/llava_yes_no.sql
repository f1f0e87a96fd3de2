{#- Per LLaVA model or mix: Yes/No balance of short answers (gpt turns whose first word is
    "yes" or "no", any case, as in svit_yes_no), and the yes share among them.
    Models: var `stats_models` (dbt models in LLaVA shape; default llava_svit_all) and var
    `stats_llava_files` (ingested LLaVA files by model name; default every file). -#}
with model_turns as (
    {{ llava_model_turns() }}
),

answers as (
    select model, lower(left(text, 4)) as head
    from model_turns
    where role = 'gpt'
),

classified as (
    select
        model,
        case when head = 'yes' or (starts_with(head, 'yes') and not regexp_matches(substr(head, 4, 1), '[a-z]')) then 'yes'
             when head = 'no' or (starts_with(head, 'no') and not regexp_matches(substr(head, 3, 1), '[a-z]')) then 'no'
        end as starts
    from answers
),

final as (
    select
        model,
        count(*) as answers,
        count(*) filter (where starts = 'yes') as starting_yes,
        count(*) filter (where starts = 'no') as starting_no,
        count(starts) / count(*) as yes_no_share,
        count(*) filter (where starts = 'yes') / nullif(count(starts), 0) as yes_share
    from classified
    group by model
)

select * from final
order by model
