{#-
    Matching LLaVA records to SVIT's original blocks by content (`svit verify`, the published
    mixes). The official files' ids are in a format of their own, so a record is known by its
    image and the text of its turns with what BAAI's conversion changes taken out: the
    `<image>` token, `<st>`/`<ed>`, the numbers inside boxes and the instruction after a
    referring question. The same normalisation applied to an original turn gives the same
    text as applied to its LLaVA rendering, so the original side needs no rendering at all
    (and the key does not depend on the instruction var).
-#}

{#- The instructions as a regex alternation, from referring_instructions() (the one list). -#}
{% macro referring_instruction_pattern() -%}
    {%- set sentences = modules.re.findall("'([^']*)'", referring_instructions()) -%}
    {{- sentences | map('replace', '.', '\\.') | join('|') -}}
{%- endmacro %}

{#- One turn's text with what the conversion changes taken out. Each regex only where a
    plain test says it can match (a `[` for a box; an ending of one of the instructions),
    which spares most turns both searches. The text without boxes is written out four times
    in the SQL; DuckDB computes such a repeated expression once per row. -#}
{% macro content_match_text(text) -%}
    {%- set stripped = "replace(replace(replace(" ~ text ~ ", '<image>' || chr(10), ''), '<st>', ''), '<ed>', '')" -%}
    {%- set endings = modules.re.findall(" (\\w+\\.)'", referring_instructions()) -%}
    {%- set unboxed = "(case when contains(" ~ text ~ ", '[') then regexp_replace(" ~ stripped
        ~ ", '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]', '[]', 'g') else " ~ stripped ~ " end)" -%}
    case
        when {% for ending in endings | unique %}{{ 'or ' if not loop.first }}ends_with({{ unboxed }}, '{{ ending }}') {% endfor %}
            then regexp_replace({{ unboxed }}, ' ({{ referring_instruction_pattern() }})$', '')
        else {{ unboxed }}
    end
{%- endmacro %}

{#- One turn's part of the matching key: the md5 of its normalised text (32 bytes a turn to
    gather, not the text). -#}
{% macro content_turn_key(text) -%}
    md5({{ content_match_text(text) }})
{%- endmacro %}

{#- A first turn's key for finding the candidate blocks only: a 64-bit hash of the normalised
    text, cheaper than the md5; two texts that share it only add a candidate, which the full
    key (content_turn_key) then tells apart. -#}
{% macro content_first_key(text) -%}
    hash({{ content_match_text(text) }})
{%- endmacro %}

{#- A group's turn keys joined in turn order: the aggregate of a GROUP BY over turns. Gathered
    unordered and sorted inside each list, not `string_agg(... order by turn)`: DuckDB holds
    the input of an ordered aggregate in memory it cannot spill, and at 4x the full scale
    int_llava_records_matched then ran out of DuckDB's memory limit (the limits tried are in
    bench/README.md, "What held mix_svit_core_150k's memory"). -#}
{% macro content_turn_keys(turn, turn_key) -%}
    array_to_string(list_transform(list_sort(list({ 'turn': {{ turn }}, 'key': {{ turn_key }} })), lambda k: struct_extract(k, 'key')), chr(31))
{%- endmacro %}

{#- The matching key of a record: md5 of its image and its turns' keys joined in turn order. -#}
{% macro content_record_key(image, turn_keys) -%}
    md5(coalesce({{ image }}, '') || chr(31) || {{ turn_keys }})
{%- endmacro %}

{#- The instruction that ends a referring question, or null. -#}
{% macro instruction_of(question) -%}
    nullif(regexp_extract({{ question }}, ' ({{ referring_instruction_pattern() }})$', 1), '')
{%- endmacro %}

{#- A LLaVA conversations list with `instruction` in place of the instruction ending each
    human turn (none when `instruction` is null). -#}
{% macro with_instruction(conversations, instruction) -%}
    list_transform({{ conversations }}, lambda t: {
        'from': t."from",
        'value': case when t."from" = 'human'
            then regexp_replace(t.value, ' ({{ referring_instruction_pattern() }})$', '') || coalesce(' ' || {{ instruction }}, '')
            else t.value end})
{%- endmacro %}

{#- One row per record of the LLaVA file `llava_file` (a model name; none: of every ingested
    file): its content key and the SVIT block that reads the same, when there is one. The
    body of int_llava_records_matched, and of int_svit_core_150k_matched for one file: with a
    file named, only that file's first turns pick the SVIT blocks worth keying in full (a
    filter on the view's result leaves every file's first turns in that step). -#}
{% macro llava_records_matched(llava_file=none) -%}
with images as (
    select
        image_id,
        image_path
    from {{ ref('stg_svit__images') }}
),

llava_turn_keys as (
    -- llava_file as text: where no LLaVA file was ingested the empty table has no `source`
    -- partition, and the staging view's llava_file is then not a string.
    select
        llava_file::varchar as llava_file,
        record_index,
        turn,
        text,
        {{ content_turn_key('text') }} as turn_key
    from {{ ref('stg_llava__turns') }}
    {%- if llava_file is not none %}
    where llava_file::varchar = '{{ llava_file }}'
    {%- endif %}
),

llava_turns as (
    select
        llava_file,
        record_index,
        arg_min(text, turn) as first_turn,
        {{ content_turn_keys('turn', 'turn_key') }} as turn_keys
    from llava_turn_keys
    group by llava_file, record_index
),

llava_records as (
    select
        records.llava_file::varchar as llava_file,
        records.record_index,
        records.id,
        llava_turns.first_turn,
        {{ content_record_key('records.image', 'llava_turns.turn_keys') }} as match_key
    from {{ ref('stg_llava__records') }} as records
    inner join
        llava_turns
        on llava_turns.llava_file = records.llava_file::varchar and records.record_index = llava_turns.record_index
),

llava_first_turns as (
    -- The image and first turn of every record of the file (or every file). Its own scan of
    -- the first turns (not llava_records), so that a query for one file still keys that
    -- file's turns alone.
    select distinct
        records.image,
        {{ content_first_key('first_turns.text') }} as first_key
    from {{ ref('stg_llava__turns') }} as first_turns
    inner join
        {{ ref('stg_llava__records') }} as records
        on
            first_turns.llava_file::varchar = records.llava_file::varchar
            and first_turns.record_index = records.record_index
    where
        first_turns.turn = 0
        {%- if llava_file is not none %}
        and first_turns.llava_file::varchar = '{{ llava_file }}'
        {%- endif %}
),

svit_first_keys as (
    -- Only the blocks of images some LLaVA record has are keyed: the key's normalisation and
    -- md5 are most of this step's time, and a block of another image cannot match.
    select
        first_turns.task,
        first_turns.image_id,
        first_turns.block,
        images.image_path,
        {{ content_first_key('first_turns.text') }} as first_key
    from {{ ref('stg_svit__turns') }} as first_turns
    inner join images using (image_id)
    where
        first_turns.turn = 0
        and images.image_path in (select llava_first_turns.image from llava_first_turns)
),

candidate_blocks as (
    -- Records with the same key have the same image and the same first turn, so only blocks
    -- whose image and first turn some LLaVA record has are keyed in full: for the published
    -- files a small share of SVIT's blocks (the count is in bench/README.md). A semi join, so
    -- that the LLaVA side is the hash table: as an inner join DuckDB built it from SVIT's
    -- first turns, and at 4x the full scale its spill filled the disk (bench/README.md, "Scaling").
    select
        svit_first_keys.task,
        svit_first_keys.image_id,
        svit_first_keys.block,
        svit_first_keys.image_path
    from svit_first_keys
    semi join
        llava_first_turns
        on
            svit_first_keys.image_path = llava_first_turns.image
            and svit_first_keys.first_key = llava_first_turns.first_key
),

blocks as (
    select
        {{ svit_record_id('source_turns.task', 'source_turns.image_id', 'source_turns.block') }} as derived_id,
        source_turns.task,
        {{ content_record_key(
            'candidate_blocks.image_path',
            content_turn_keys('source_turns.turn', content_turn_key('source_turns.text'))
        ) }} as match_key
    from {{ ref('stg_svit__turns') }} as source_turns
    inner join candidate_blocks using (task, image_id, block)
    group by source_turns.task, source_turns.image_id, source_turns.block, candidate_blocks.image_path
),

block_keys as (
    -- Two blocks that read the same share a key; either is as good a match (the smaller id).
    select
        match_key,
        min(derived_id) as derived_id,
        arg_min(task, derived_id) as task
    from blocks
    group by match_key
),

final as (
    select
        llava_records.llava_file,
        llava_records.record_index,
        llava_records.id,
        llava_records.match_key,
        block_keys.derived_id,
        block_keys.task,
        case
            when block_keys.task = 'referring_qa' then {{ instruction_of('llava_records.first_turn') }}
        end as instruction
    from llava_records
    left join block_keys using (match_key)
)

select * from final
{%- endmacro %}
