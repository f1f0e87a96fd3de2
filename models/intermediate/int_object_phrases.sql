{#- The object phrases SVIT marks (`<st>phrase<ed>` in referring turns), as recipes compare
    them with questions (macros/recipes/object_phrases.sql): lower-case words joined by one
    space. Phrases longer than the longest run a question is read in are left out: no
    question could be found to name them, so they would only lower every coverage share. -#}

with boxes as (
    select * from {{ ref('stg_svit__boxes') }}
),

marks as (
    -- A mark is its phrase with its first box; the later boxes of a mark repeat the phrase.
    select image_id, block, {{ phrase_words('phrase') }} as words
    from boxes
    where box_index = 0
),

final as (
    select
        array_to_string(words, ' ') as phrase,
        len(words) as n_words,
        count(*) as marks,
        count(distinct hash(image_id, block)) as blocks
    from marks
    where len(words) between 1 and {{ max_phrase_words() }}
    group by all
)

select * from final
