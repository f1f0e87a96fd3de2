{#- Per LLaVA model or mix: records, turns, QA pairs (gpt turns), distinct images,
    text-only records (no media) and their share, records with several images and with a
    video, media (images and videos) per record, turns per record. One row per model.
    Which models: macros/llava_model_rows.sql. -#}
with model_records as (
    {{ llava_model_records() }}
),

final as (
    select
        model,
        count(*) as records,
        coalesce(sum(n_turns), 0)::bigint as turns,
        coalesce(sum(n_turns // 2), 0)::bigint as qa_pairs,
        count(distinct image) as images,
        count(*) filter (where not has_image) as text_only,
        count(*) filter (where not has_image) / count(*) as text_only_share,
        count(*) filter (where n_images > 1) as multi_image,
        count(*) filter (where n_videos > 0) as with_video,
        avg(n_images + n_videos) as mean_media_per_record,
        avg(n_turns) as mean_turns_per_record,
        min(n_turns) as min_turns_per_record,
        max(n_turns) as max_turns_per_record
    from model_records
    group by model
)

select * from final
order by model
