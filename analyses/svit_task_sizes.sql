{#- SVIT per task: records (original conversation blocks), QA pairs, turns, images, and
    turns per record. One row per task. -#}

with conversations as (
    select * from {{ ref('stg_svit__conversations') }}
),

turns as (
    select
        task,
        count(*) as turns,
        count(*) filter (where role = 'gpt') as qa_pairs
    from {{ ref('stg_svit__turns') }}
    group by task
),

per_task as (
    select
        task,
        count(*) as records,
        count(distinct image_id) as images,
        avg(n_turns) as mean_turns_per_record,
        min(n_turns) as min_turns_per_record,
        max(n_turns) as max_turns_per_record
    from conversations
    group by task
),

final as (
    select
        per_task.task,
        per_task.records,
        per_task.images,
        per_task.mean_turns_per_record,
        per_task.min_turns_per_record,
        per_task.max_turns_per_record,
        coalesce(turns.qa_pairs, 0) as qa_pairs,
        coalesce(turns.turns, 0) as turns
    from per_task
    left join turns using (task)
)

select
    task,
    records,
    qa_pairs,
    turns,
    images,
    mean_turns_per_record,
    min_turns_per_record,
    max_turns_per_record
from final
order by list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], task), task
