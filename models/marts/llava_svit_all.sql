{#- SVIT in LLaVA-1.5 format, all four tasks, in the order of the published files (task,
    then source record, then block): the four task models one after the other. -#}

with conversation as (
    select * from {{ ref('llava_svit_conversation') }}
),

complex_reasoning as (
    select * from {{ ref('llava_svit_complex_reasoning') }}
),

detail_description as (
    select * from {{ ref('llava_svit_detail_description') }}
),

referring_qa as (
    select * from {{ ref('llava_svit_referring_qa') }}
),

final as (
    select
        id,
        image,
        conversations,
        task,
        image_id,
        block,
        source_file,
        record_index,
        record_order
    from conversation
    union all
    select
        id,
        image,
        conversations,
        task,
        image_id,
        block,
        source_file,
        record_index,
        record_order
    from complex_reasoning
    union all
    select
        id,
        image,
        conversations,
        task,
        image_id,
        block,
        source_file,
        record_index,
        record_order
    from detail_description
    union all
    select
        id,
        image,
        conversations,
        task,
        image_id,
        block,
        source_file,
        record_index,
        record_order
    from referring_qa
)

select * from final
order by record_order
