{#- Per LLaVA model or mix: words and characters per question (human turn) and per answer
    (gpt turn), and words per record split by modality as LLaVA's `modality_lengths`
    does (the sum over a record's turns; records with an image vs text-only). Same columns
    and word definition as svit_text_lengths.
    Which models: macros/llava_model_rows.sql. -#}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{#- A model that is a sorted union of other models (llava_svit_all: the four task models)
    is read from its parts: statistics do not need the order, and the sort is the costly part. -#}
{%- set model_parts = var('stats_model_parts', {}) %}
{#- A task model whose turns are SVIT's text as it is (part -> task) is measured through the
    SVIT turns, which svit_text_lengths measures anyway (macros/svit_turn_measures.sql). -#}
{%- set svit_text_parts = var('stats_svit_text_parts', {}) %}
{#- The other dbt models keep a record's turns in `conversations`: one row per record with its
    turns measured in place (kind, words, chars). -#}
with model_records as materialized (
        {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) if part not in svit_text_parts %}
        select
            '{{ m }}' as scope,
            model_rows.image is not null as has_image,
            -- `c` is the lambda's parameter, which sqlfluff takes for a missing table -- noqa: disable=RF01
            list_transform(model_rows.conversations, lambda c: {
                'kind': case c."from" when 'human' then 'question' else 'answer' end,
                'words': {{ analysis_word_count('c.value') }},
                'chars': length(c.value)
            }) as turns
            -- noqa: enable=RF01
        from {{ ref(part) }} as model_rows
        union all
    {%- endfor %}{% endfor %}
    select
        null::varchar as scope,
        null::boolean as has_image,
        null::struct(kind varchar, words bigint, chars bigint)[] as turns
    where false
),

-- The task models read through the SVIT turns: one row per turn of each record, the record
-- named by task, image_id and block (the lineage columns of the task models).
svit_text_turns as materialized (
    {%- for m in llava_models %}{% for part in model_parts.get(m, [m]) if part in svit_text_parts %}
    select
        '{{ m }}' as scope,
        image is not null as has_image,
        task,
        image_id,
        block,
        kind,
        words,
        chars
    from ({{ svit_text_part_turns(part, svit_text_parts[part]) }}) as part_turns
    union all
    {%- endfor %}{% endfor %}
    select
        null::varchar as scope,
        null::boolean as has_image,
        null::varchar as task,
        null::bigint as image_id,
        null::integer as block,
        null::varchar as kind,
        null::bigint as words,
        null::bigint as chars
    where false
),

-- Ingested files keep one row per turn: measured as ingest stored them (words, chars), and
-- summed per record for the record words (no list per record is gathered: bench/README.md).
-- Not materialized: each of its two readers reads those few stored columns again, which costs
-- less than holding a row per turn of every file.
file_turns as not materialized (
    select
        model as scope,
        record_index,
        -- Counted and measured once, by ingest (macros/llava_turn_measures.sql).
        words,
        chars,
        case role when 'human' then 'question' else 'answer' end as kind
    from ({{ llava_file_turns() }}) as file_turn_rows
),

measured as (
    select
        unnested.scope,
        unnested.t.kind,
        unnested.t.words,
        unnested.t.chars
    from (
        select
            scope,
            unnest(turns) as t
        from model_records
    ) as unnested
    union all
    select
        scope,
        kind,
        words,
        chars
    from svit_text_turns
    union all
    select
        scope,
        kind,
        words,
        chars
    from file_turns
),

records as (
    select
        model_records.scope,
        model_records.has_image,
        coalesce(list_sum(list_transform(model_records.turns, lambda t: t.words)), 0) as words
    from model_records
    union all
    select
        scope,
        has_image,
        sum(words) as words
    from svit_text_turns
    group by scope, task, image_id, block, has_image
    union all
    -- A file's records that have turns, as the turns count them.
    select
        r.llava_file as scope,
        r.has_image,
        w.words
    from (
        select
            scope,
            record_index,
            sum(words) as words
        from file_turns
        group by scope, record_index
    ) as w
    inner join {{ ref('stg_llava__records') }} as r on w.scope = r.llava_file and w.record_index = r.record_index
),

frequencies as (
    {{ turn_length_frequencies('measured') }}
    union all
    select
        scope,
        case when has_image then 'record words (image)' else 'record words (text-only)' end as measure,
        words::double as v,
        count(*) as n
    from records
    group by all
),

-- The statistics of `frequencies`: macros/distribution_statistics.sql.
{{ distribution_statistics() }}

select * from final
order by scope, measure
