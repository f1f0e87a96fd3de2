{#- Yes/No balance of short answers, per SVIT task: answers whose first word is "yes" or
    "no" (any case, followed by a non-letter or the end), and the yes share among them. -#}

with answers as (
    select
        task,
        text
    from {{ ref('stg_svit__turns') }}
    where role = 'gpt'
),

final as (
    {{ yes_no_balance('answers', 'task') }}
)

select * from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task), task
