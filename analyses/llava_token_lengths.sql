{#- Per LLaVA model or mix counted by `svit tokens`: text, image and total tokens per record,
    one measure per family and tokenizer that counted it (`total tokens · llava-1.5 ·
    mistral-v1`). Records whose image size is unknown have no image and total count and are
    left out of those two (the over-length analysis counts them). svit stats runs this only
    when the table record_tokens exists: it is written by `svit tokens`, not by dbt, so it is
    named as the table it is, not through ref(). -#}
with counted as (
    select
        model as scope,
        text_tokens,
        image_tokens,
        total_tokens,
        family || ' · ' || tokenizer as counted_by
    from record_tokens
    where {{ is_profiled_model('model') }}
),

frequencies as (
    select
        scope,
        'total tokens · ' || counted_by as measure,
        total_tokens::double as v,
        count(*) as n
    from counted
    where total_tokens is not null
    group by all
    union all
    select
        scope,
        'text tokens · ' || counted_by as measure,
        text_tokens::double as v,
        count(*) as n
    from counted
    group by all
    union all
    select
        scope,
        'image tokens · ' || counted_by as measure,
        image_tokens::double as v,
        count(*) as n
    from counted
    where image_tokens is not null
    group by all
),

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by scope, measure
