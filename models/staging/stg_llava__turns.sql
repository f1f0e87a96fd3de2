{#- One row per turn of an ingested LLaVA file. `words`: ingest counts each turn's words as
    the statistics count them (svit/core/word_counts.py; the definition is
    macros/word_count.sql). A turn file written before ingest did has no such column: its
    turns are counted here. -#}

with source as (
    select * from {{ source('svit', 'llava_turns') }}
),

with_words as (
    {{ with_stored_words('source') }}
),

renamed as (
    select
        source as llava_file,
        record_index::bigint as record_index,
        turn::integer as turn,
        role,
        text,
        extra,
        {{ stored_or_counted_words('words', 'text') }} as words
    from with_words
)

select * from renamed
