with source as (
    select * from {{ source('svit', 'llava_records') }}
),

renamed as (
    select
        source as llava_file,
        source_file,
        record_index::bigint as record_index,
        id,
        id_json,
        id_type,
        has_image,
        image,
        n_turns::integer as n_turns,
        extra,
        n_images::integer as n_images,
        n_videos::integer as n_videos,
        media,
        layout
    from source
)

select * from renamed
