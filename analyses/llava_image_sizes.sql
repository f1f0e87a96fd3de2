{#- Per LLaVA model or mix: the sizes of its images as `svit images` read the files (the
    table image_files): width, height and aspect ratio (width / height) of each distinct image
    a record names whose file could be read. svit stats runs this only when image_files exists:
    `svit images` writes it, not dbt, so it is named as the table it is, not through ref(). -#}
with model_images as (
    select distinct
        model,
        image
    from ({{ llava_model_records(turns=false) }})
    where image is not null
),

sized as (
    select
        m.model as scope,
        f.width,
        f.height
    from model_images as m
    inner join image_files as f on m.image = f.path
    where f.decodable
),

frequencies as (
    select
        scope,
        'image width' as measure,
        width::double as v,
        count(*) as n
    from sized
    group by all
    union all
    select
        scope,
        'image height' as measure,
        height::double as v,
        count(*) as n
    from sized
    group by all
    union all
    select
        scope,
        'aspect ratio (width / height)' as measure,
        round(width / height, 3) as v,
        count(*) as n
    from sized
    group by all
),

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by scope, measure
