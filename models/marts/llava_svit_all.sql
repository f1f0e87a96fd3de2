{#- SVIT in LLaVA-1.5 format, all four tasks: one row per record, in the order of the
    published files (task, then source record, then block). -#}

with conversations as (
    select * from {{ ref('stg_svit__conversations') }}
),

images as (
    select image_id, image_path from {{ ref('stg_svit__images') }}
),

turns as (
    select * from {{ ref('int_turns_rendered') }}
),

records as (
    select
        task,
        image_id,
        block,
        list({'from': "from", 'value': value} order by turn) as conversations
    from turns
    group by task, image_id, block
),

final as (
    select
        {{ svit_record_id('conversations.task', 'conversations.image_id', 'conversations.block') }} as id,
        images.image_path as image,
        records.conversations,
        conversations.task,
        conversations.image_id,
        conversations.block,
        conversations.source_file,
        conversations.record_index,
        -- The published order; exports sort by it (a table's row order is not a contract).
        row_number() over (
            order by
                list_position(['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'], conversations.task),
                conversations.record_index,
                conversations.block
        ) as record_order
    from conversations
    inner join records using (task, image_id, block)
    left join images using (image_id)
)

select * from final
order by record_order
