{#- Per LLaVA model or mix: records by image prefix, the first folder of `image`
    (coco/train2017/... -> coco, vg, gqa, ocr_vqa, textvqa; none = text-only, no image),
    with their share of the model. One row per model and prefix.
    Which models: macros/llava_model_rows.sql. -#}
with model_records as (
    {{ llava_model_records(turns=false) }}
),

final as (
    select
        model,
        coalesce(split_part(image, '/', 1), 'none') as image_prefix,
        count(*) as records,
        count(*) / sum(count(*)) over (partition by model) as share,
        count(distinct image) as images
    from model_records
    group by model, image_prefix
)

select * from final
order by model asc, records desc, image_prefix asc
