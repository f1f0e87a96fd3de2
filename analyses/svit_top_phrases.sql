{#- The most frequent object phrases of referring turns: the marked phrase lower-cased and
    trimmed, its boxes, marks (a mark is the phrase once, with its first box), turns
    and images. Top `stats_top_phrases` (default 20). -#}

with boxes as (
    select * from {{ ref('stg_svit__boxes') }}
),

phrases as (
    select
        lower(trim(phrase)) as phrase,
        count(*) as boxes,
        count(*) filter (where box_index = 0) as marks,
        count(distinct hash(image_id, block, turn)) as turns,
        count(distinct image_id) as images
    from boxes
    group by lower(trim(phrase))
),

final as (
    select
        phrase,
        boxes,
        marks,
        turns,
        images,
        row_number() over (order by boxes desc, phrase asc) as rank,
        boxes / sum(boxes) over () as box_share
    from phrases
)

select
    rank,
    phrase,
    boxes,
    box_share,
    marks,
    turns,
    images
from final
where rank <= {{ var('stats_top_phrases', 20) }}
order by rank
