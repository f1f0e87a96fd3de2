{#- What a user-declared mix covers, beside the official core set (SVIT_core_150K as
    mix_svit_core_150k rebuilds it): the object phrases its questions name (as `select:
    coverage` reads them, macros/recipes/object_phrases.sql), its records whose first answer
    is a Yes or No answer (macros/yes_no.sql, the rule of the statistics too) and its records
    per task. `svit mix` puts it in the manifest. Enabled and named like mix_user:
    <mix name>__coverage. -#}
{%- set outline = mix_outline() -%}
{{ config(enabled=(outline is not none), alias=((outline['name'] ~ '__coverage') if outline is not none else 'mix_user_coverage')) }}
{%- if outline is not none %}
-- depends_on: {{ ref('mix_user') }}
{{ mix_dependencies(outline) }}
{%- endif %}
{%- set mix = mix_recipe() %}
{%- if mix is not none %}
{%- set compared = [(mix['name'], ref('mix_user')), ('mix_svit_core_150k', ref('mix_svit_core_150k'))] %}

with phrases as (
    select count(*) as phrases from {{ ref('int_object_phrases') }}
),
{% for name, relation in compared %}

records_{{ loop.index }} as (
    select
        count(*) as records,
        count(*) filter (where yes_no = 'yes') as yes_records,
        count(*) filter (where yes_no = 'no') as no_records
    from (
        select {{ yes_no_first_answer('conversations') }} as yes_no
        from {{ relation }}
    )
),

tasks_{{ loop.index }} as (
    select coalesce(json_group_object(task, records)::varchar, '{}') as records_per_task
    from (
        select coalesce(task, 'none') as task, count(*) as records
        from {{ relation }}
        group by 1
    )
),

covered_{{ loop.index }} as (
    select count(distinct phrase) as phrases_covered
    {%- if name == 'mix_svit_core_150k' %}
    -- The official core's pairs, found once (mix_user's pre-hook, macros/recipes/record_cache.sql).
    from {{ question_phrase_cache() }}
    where model = 'mix_svit_core_150k'
    {%- else %}
    from (
        {#- Records of a model whose pairs the pre-hook keeps take them from there (found once,
            not split again per mix), unless the recipe's grounding rewrote their text. -#}
        {%- set cached = [] if mix.grounding.column else cached_phrase_models(mix) %}
        {%- for model in cached %}
        -- A mix row names its source record by position, the cache by record_order: the mix's
        -- records of the model found first (a semi join, which DuckDB does not reorder), then
        -- their pairs; joined as one inner join, the cache was joined to every record's
        -- position first.
        select c.phrase
        from (
            select p.record_order
            from ({{ source_positions(ref(model)) }}) as p
            semi join (select source_record_index from {{ relation }} where mix_source = '{{ model }}') as m
                on p.source_position = m.source_record_index
        ) as picked
        inner join {{ question_phrase_cache() }} as c on c.model = '{{ model }}' and c.record_order = picked.record_order
        union all
        {%- endfor %}
        {%- set quoted = ["''"] %}
        {%- for model in cached %}{% do quoted.append("'" ~ model ~ "'") %}{% endfor %}
        select phrase
        from ({{ question_phrases(
            '(select * from ' ~ relation ~ ' where mix_source not in (' ~ quoted | join(', ') ~ '))', 'record_order') }})
    )
    {%- endif %}
),
{% endfor %}

final as (
    {%- for name, relation in compared %}
    select
        {{ loop.index }} as position,
        '{{ name }}' as mix,
        records,
        phrases_covered,
        phrases as phrases_total,
        round(phrases_covered / nullif(phrases, 0), 4) as phrase_share,
        yes_records,
        no_records,
        round(yes_records / nullif(yes_records + no_records, 0), 4) as yes_share,
        records_per_task
    from records_{{ loop.index }}, tasks_{{ loop.index }}, covered_{{ loop.index }}, phrases
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
order by position
{%- endif %}
