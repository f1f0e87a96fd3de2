{#- Yes/No answers per SVIT task: of the answers (every gpt turn), those that are Yes and No
    answers by the rule the mixes use too (macros/yes_no.sql), and the yes share among them. -#}

with answers as (
    select
        task,
        text
    from {{ ref('stg_svit__turns') }}
    where role = 'gpt'
),

final as (
    {{ yes_no_answer_counts('answers', 'task') }}
)

select * from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task), task
