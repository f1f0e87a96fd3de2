{#- One row per SVIT turn. Roles are LLaVA's `human` / `gpt` (docs/warehouse.md, "Roles"):
    ingest stores SVIT's `user` as `human`; a snapshot written before it did still says
    `user`, and reads the same here, so old and new table files never mix two spellings. -#}

with source as (
    select * from {{ source('svit', 'turns') }}
),

spelled as (
    select
        * exclude (role),
        -- `role`: the table's own column name, which its readers use
        case role when 'user' then 'human' else role end as role  -- noqa: RF04
    from source
),

renamed as (
    select
        task,
        image_id::bigint as image_id,
        block::integer as block,
        turn::integer as turn,
        role,
        text
    from spelled
)

select * from renamed
