{#- One row per turn of an ingested LLaVA file, with what the statistics measure of it:
    `words` (as macros/word_count.sql counts them), `chars`, `duplicate_hash` and `yes_no`
    (macros/llava_turn_measures.sql). Ingest stores them beside the text
    (svit/core/word_counts.py, ingest/llava_typed_read.py); a turn file written before it did
    lacks some or all of them, and its turns are measured here from the text. Two branches
    rather than coalesce(stored, measured), which would read every turn's text whenever a
    measure is read: a reader of the measures reads the text of no file that holds them (the
    second branch skips the files whose statistics say no `chars` is null). -#}

with with_measures as not materialized (
    -- Renamed and typed, with the columns a file written before ingest measured turns lacks
    -- as nulls. Not materialized (nor a CTE of the source before it): each branch below
    -- reads it, and a materialized copy would hold every turn's text.
    select
        source as llava_file,
        record_index::bigint as record_index,
        turn::integer as turn,
        role,
        text,
        extra,
        words::integer as words,
        chars::integer as chars,
        duplicate_hash,
        yes_no
    from (
        select * from {{ source('svit', 'llava_turns') }}
        union all by name
        select
            null::integer as words,
            null::integer as chars,
            null::ubigint as duplicate_hash,
            null::varchar as yes_no
        where false
    ) as turns
),

renamed as (
    select * from with_measures
    where chars is not null
    union all
    select
        * exclude (words, chars, duplicate_hash, yes_no),
        {{ stored_or_counted_words('words', 'text') }} as words,
        {{ llava_turn_measures('text', 'role') }}
    from with_measures
    where chars is null
)

-- The columns are with_measures', listed above, which sqlfluff cannot follow through the union.
select * from renamed  -- noqa: AM04
