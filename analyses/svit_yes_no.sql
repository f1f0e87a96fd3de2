{#- Yes/No balance of short answers, per SVIT task: answers whose first word is "yes" or
    "no" (any case, followed by a non-letter or the end), and the yes share among them. -#}

with answers as (
    select task, lower(left(text, 4)) as head
    from {{ ref('stg_svit__turns') }}
    where role = 'gpt'
),

classified as (
    select
        task,
        case when head = 'yes' or (starts_with(head, 'yes') and not regexp_matches(substr(head, 4, 1), '[a-z]')) then 'yes'
             when head = 'no' or (starts_with(head, 'no') and not regexp_matches(substr(head, 3, 1), '[a-z]')) then 'no'
        end as starts
    from answers
),

final as (
    select
        task,
        count(*) as answers,
        count(*) filter (where starts = 'yes') as starting_yes,
        count(*) filter (where starts = 'no') as starting_no,
        count(starts) / count(*) as yes_no_share,
        count(*) filter (where starts = 'yes') / nullif(count(starts), 0) as yes_share
    from classified
    group by task
)

select * from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task), task
