{#- Images by Visual Genome folder and COCO overlap (coco_id not null), and how many of
    them SVIT's conversations use. One row per folder. -#}

with images as (
    select
        image_id,
        folder,
        coco_id
    from {{ ref('stg_svit__images') }}
),

used as (
    select distinct image_id from {{ ref('stg_svit__conversations') }}
),

final as (
    select
        coalesce(images.folder, '(unknown)') as folder,
        count(*) as images,
        count(images.coco_id) as in_coco,
        count(images.coco_id) / count(*) as coco_share,
        count(used.image_id) as used_by_svit,
        count(*) filter (where images.coco_id is not null and used.image_id is not null) as used_and_in_coco
    from images
    left join used using (image_id)
    group by all
)

select * from final
order by folder
