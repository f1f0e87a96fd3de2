{#- Duplicate questions and answers, per SVIT task: turns, distinct texts, texts that occur
    more than once, and the turns that repeat an earlier text (turns - distinct texts).
    Texts are compared by their 64-bit hash, which keeps the grouping small at full scale
    (a collision among millions of texts has a probability of about 1e-6), measured once per
    run (macros/svit_turn_measures.sql). -#}

with texts as (
    select
        task,
        kind,
        text_hash,
        count(*) as n
    from {{ svit_turn_measures() }} as turns
    group by all
),

final as (
    {{ repeat_counts('texts', 'task') }}
)

select * from final
order by
    list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task),
    task asc,
    kind desc
