{#- Detail-instruction usage: how many detail_description records ask each of the 34
    instructions SVIT samples from (var `stats_detail_questions`, passed in from
    svit/core/facts.py DETAIL_QUESTIONS), and any other question, marked listed = false. -#}

{%- set questions = var('stats_detail_questions', []) %}

with asked as (
    select
        trim(text) as question,
        count(*) as records
    from {{ ref('stg_svit__turns') }}
    where task = 'detail_description' and turn = 0
    group by trim(text)
),

listed as (
    select
        instruction_list.k,
        instruction_list.question
    from (
        values
        {%- for q in questions %}
        ({{ loop.index }}, '{{ q | replace("'", "''") }}'){{ "," if not loop.last }}
        {%- else %}
            (null::integer, null::varchar)
        {%- endfor %}
    ) as instruction_list (k, question)
    where instruction_list.question is not null
),

final as (
    select
        listed.k as instruction,
        coalesce(listed.question, asked.question) as question,
        listed.k is not null as listed,
        coalesce(asked.records, 0) as records
    from listed
    full outer join asked using (question)
)

select * from final
order by instruction asc nulls last, records desc, question asc
