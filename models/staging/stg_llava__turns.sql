with source as (
    select * from {{ source('svit', 'llava_turns') }}
),

renamed as (
    select
        source as llava_file,
        record_index::bigint as record_index,
        turn::integer as turn,
        role,
        text,
        extra
    from source
)

select * from renamed
