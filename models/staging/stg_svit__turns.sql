with source as (
    select * from {{ source('svit', 'turns') }}
),

renamed as (
    select
        task,
        image_id::bigint as image_id,
        block::integer as block,
        turn::integer as turn,
        role,
        text
    from source
)

select * from renamed
