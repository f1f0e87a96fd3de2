{#- SVIT in LLaVA-1.5 format, all four tasks, in the order of the published files (task,
    then source record, then block): the four task models one after the other. -#}

with final as (
    {{ llava_svit_task_records() }}
)

select * from final
order by record_order
