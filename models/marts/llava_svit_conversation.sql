{#- SVIT's conversation records in LLaVA-1.5 format: llava_svit_all for one task. -#}

with records as (
    select * from {{ ref('llava_svit_all') }}
),

final as (
    select id, image, conversations, task, image_id, block, source_file, record_index, record_order
    from records
    where task = 'conversation'
)

select * from final
order by record_order
