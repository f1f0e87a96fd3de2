with source as (
    select * from {{ source('svit', 'boxes') }}
),

renamed as (
    select
        task,
        image_id::bigint as image_id,
        block::integer as block,
        turn::integer as turn,
        mark_index::integer as mark_index,
        phrase,
        box_index::integer as box_index,
        x1,
        y1,
        x2,
        y2,
        box_text,
        mark_offset::integer as mark_offset,
        box_offset::integer as box_offset
    from source
)

select * from renamed
