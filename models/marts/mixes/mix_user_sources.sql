{#- The per-source counts of a user-declared mix (`svit mix`): one row per recipe source,
    with what it holds, what its drops leave out (records, and records per reason: a record
    may have several), what its filter keeps and how many records its `take` asks for;
    `svit mix` adds what was selected and upsampled (from the mix), how far the source ran
    short of `asked`, and writes the manifest. Enabled and named like mix_user:
    <mix name>__sources. -#}
{%- set outline = mix_outline() -%}
{{ config(enabled=(outline is not none), alias=((outline['name'] ~ '__sources') if outline is not none else 'mix_user_sources')) }}
{%- if outline is not none %}
{{ mix_dependencies(outline) }}
{%- endif %}
{%- set mix = mix_recipe() %}
{%- if mix is not none %}

with
{{ mix_source_ctes(mix) }}

final as (
    {%- for source in mix.sources %}
    select
        *,
        {{ mix_take_asked(source, 'filtered') }} as asked
    from (
        select
            {{ loop.index }} as source_number,
            '{{ source.name }}' as source,
            held.available,
            {%- if source.drops %}
            (select count(distinct source_record) from dropped_{{ loop.index }}) as dropped,
            (select coalesce(json_group_object(reason, n), '{}')::varchar
             from (select reason, count(*) as n from dropped_{{ loop.index }} group by reason)) as dropped_by,
            {%- else %}
            0::bigint as dropped,
            '{}' as dropped_by,
            {%- endif %}
            {%- if source.filter or source.drops %}
            (select count(*) from filtered_{{ loop.index }}) as filtered
            {%- else %}
            held.available as filtered  -- nothing left out: the same count, not taken twice
            {%- endif %}
        from (select count(*) as available from source_{{ loop.index }}) as held
    ) as counted_{{ loop.index }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
order by source_number
{%- endif %}
