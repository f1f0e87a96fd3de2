{#- One row per turn of an ingested LLaVA file. `words`: ingest counts each turn's words as
    the statistics count them (svit/core/word_counts.py; the definition is
    macros/word_count.sql). A turn file written before ingest did has no such column: its
    turns are counted here. -#}

with source as (
    select * from {{ source('svit', 'llava_turns') }}
),

-- A union by name with an empty relation that has `words` gives the column to every row,
-- null in turn files that lack it.
with_words as (
    select * from source
    union all by name
    select null::integer as words
    where false
),

renamed as (
    select
        source as llava_file,
        record_index::bigint as record_index,
        turn::integer as turn,
        role,
        text,
        extra,
        coalesce(words, {{ word_count('text') }})::integer as words
    from with_words
)

select * from renamed
