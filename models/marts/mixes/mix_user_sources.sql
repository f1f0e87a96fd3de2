{#- The per-source counts of a user-declared mix (`svit mix`): one row per recipe source,
    with what it holds and what its filter keeps; `svit mix` adds what was selected and
    upsampled (from the mix) and writes the manifest. Enabled and named like mix_user:
    <mix name>__sources. -#}
{%- set mix = var('mix', none) -%}
{{ config(enabled=(mix is not none), alias=((mix['name'] ~ '__sources') if mix is not none else 'mix_user_sources')) }}
{%- if mix is not none %}

with
{{ mix_source_ctes(mix) }}

final as (
    {%- for source in mix.sources %}
    select
        {{ loop.index }} as source_number,
        '{{ source.name }}' as source,
        (select count(*) from source_{{ loop.index }}) as available,
        (select count(*) from filtered_{{ loop.index }}) as filtered
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
order by source_number
{%- endif %}
