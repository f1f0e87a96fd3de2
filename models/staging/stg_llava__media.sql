with source as (
    select * from {{ source('svit', 'llava_media') }}
),

renamed as (
    select
        source as llava_file,
        source_file,
        record_index::bigint as record_index,
        ordinal::integer as ordinal,
        kind,
        path
    from source
)

select * from renamed
