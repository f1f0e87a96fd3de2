{#- Per LLaVA model or mix: duplicate questions (human turns) and answers (gpt turns), as
    svit_duplicates counts them; the `<image>` token and the newline beside it are
    removed first so a question counts the same wherever the token stands; texts are
    compared by their 64-bit hash, as in svit_duplicates.
    Which models: macros/llava_model_rows.sql.

    Each model's texts are counted by an aggregation of its own, keyed by fixed-size values
    only (question or answer, the hash; a file by the hash of its name): one aggregation keyed
    by the models' names as well ran out of the statistics' memory limit at 4x the full
    scale (bench/README.md, "Scaling"). -#}
{%- set llava_models = var('stats_models', ['llava_svit_all']) %}
{%- set model_parts = var('stats_model_parts', {}) %}
{%- set svit_text_parts = var('stats_svit_text_parts', {}) %}

with file_texts as (
    -- Hashed once, by ingest (macros/llava_turn_measures.sql).
    select
        duplicate_hash as text_hash,
        hash(model) as file_key,
        role = 'human' as is_question,
        count(*) as n
    from ({{ llava_file_turns() }}) as file_turn_rows
    group by all
),

file_names as (
    select distinct
        llava_file,
        hash(llava_file) as file_key
    from {{ ref('stg_llava__records') }}
),
{%- for m in llava_models %}

    model_texts_{{ loop.index }} as (
        select
            is_question,
            text_hash,
            count(*) as n
        from (
            {%- for part in model_parts.get(m, [m]) if part not in svit_text_parts %}
                select
                    turns.c."from" = 'human' as is_question,
                    {{ duplicate_text_hash('turns.c.value') }} as text_hash
                from (select unnest(conversations) as c from {{ ref(part) }}) as turns
                union all
            {%- endfor %}
            {%- for part in model_parts.get(m, [m]) if part in svit_text_parts %}
            -- A task model whose turns are SVIT's text as it is: hashed once per run
            -- (macros/svit_turn_measures.sql).
            select
                kind = 'question' as is_question,
                text_hash
            from ({{ svit_text_part_turns(part, svit_text_parts[part]) }}) as part_turns
            union all
            {%- endfor %}
            select
                null::boolean as is_question,
                null::ubigint as text_hash
            where false
        ) as model_turns
        group by all
    ),
{%- endfor %}

texts as (
    {%- for m in llava_models %}
        select
            '{{ m }}' as model,
            case when is_question then 'question' else 'answer' end as kind,
            text_hash,
            n
        from model_texts_{{ loop.index }}
        union all
    {%- endfor %}
    select
        file_names.llava_file as model,
        case when file_texts.is_question then 'question' else 'answer' end as kind,
        file_texts.text_hash,
        file_texts.n
    from file_texts
    inner join file_names on file_texts.file_key = file_names.file_key
),

final as (
    {{ repeat_counts('texts', 'model') }}
)

select * from final
order by model asc, kind desc
