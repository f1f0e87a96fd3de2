with source as (
    select * from {{ source('svit', 'images') }}
),

renamed as (
    select
        image_id::bigint as image_id,
        width::integer as width,
        height::integer as height,
        folder,
        image_path,
        coco_id::bigint as coco_id,
        flickr_id::bigint as flickr_id,
        url
    from source
)

select * from renamed
