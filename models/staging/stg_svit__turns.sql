{#- One row per SVIT turn. Roles are LLaVA's `human` / `gpt` (docs/warehouse.md, "Roles"):
    ingest stores SVIT's `user` as `human`; a snapshot written before it did still says
    `user`, and reads the same here, so old and new table files never mix two spellings.
    `words`: ingest counts each turn's words as the statistics count them
    (svit/core/word_counts.py; the definition is macros/word_count.sql). A turn file written
    before ingest did has no such column: its turns are counted here. -#}

with source as (
    select * from {{ source('svit', 'turns') }}
),

with_words as (
    {{ with_stored_words('source') }}
),

spelled as (
    select
        * exclude (role),
        -- `role`: the table's own column name, which its readers use
        case role when 'user' then 'human' else role end as role  -- noqa: RF04
    from with_words
),

renamed as (
    select
        task,
        image_id::bigint as image_id,
        block::integer as block,
        turn::integer as turn,
        role,
        text,
        {{ stored_or_counted_words('words', 'text') }} as words
    from spelled
)

select * from renamed
