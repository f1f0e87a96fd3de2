{#- Per LLaVA model or mix: duplicate questions (human turns) and answers (gpt turns), as
    svit_duplicates counts them; the `<image>` token and the newline beside it are
    removed first so a question counts the same wherever the token stands; texts are
    compared by their 64-bit hash, as in svit_duplicates.
    Which models: macros/llava_model_rows.sql. -#}
with model_turns as (
    {{ llava_model_turns() }}
),

texts as (
    select
        model,
        case role when 'human' then 'question' else 'answer' end as kind,
        hash(case
            when contains(text, '<image>')
                then
                    trim(
                        replace(
                            replace(replace(text, '<image>' || chr(10), ''), chr(10) || '<image>', ''), '<image>', ''
                        )
                    )
            else text
        end) as text_hash,
        count(*) as n
    from model_turns
    group by all
),

final as (
    {{ repeat_counts('texts', 'model') }}
)

select * from final
order by model asc, kind desc
