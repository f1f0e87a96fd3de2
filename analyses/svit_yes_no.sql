{#- Yes/No answers per SVIT task: of the answers (every gpt turn), those that are Yes and No
    answers by the rule the mixes use too (macros/yes_no.sql), and the yes share among them;
    measured once per run (macros/svit_turn_measures.sql). -#}

with answers as (
    select
        task,
        yes_no
    from {{ svit_turn_measures() }} as turns
    where kind = 'answer'
),

final as (
    {{ yes_no_answer_counts('answers', 'task') }}
)

select * from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task), task
