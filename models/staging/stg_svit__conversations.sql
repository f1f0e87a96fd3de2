with source as (
    select * from {{ source('svit', 'conversations') }}
),

renamed as (
    select
        task,
        image_id::bigint as image_id,
        block::integer as block,
        n_turns::integer as n_turns,
        source_file,
        record_index::bigint as record_index,
        extra
    from source
)

select * from renamed
