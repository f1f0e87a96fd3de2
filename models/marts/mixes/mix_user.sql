{#- A user-declared mix (`svit mix RECIPE.yml`): one generic model, enabled only when `svit
    mix` passes the recipe as var('mix'), and written to a table named by the recipe (the
    alias), so every user mix is a table of its own while the project holds no generated
    SQL. Per source, in recipe order: the filtered records, then `take` of them: all, the
    first N in source order, or N (a count, or a fraction of the filtered records, rounded
    half up) picked by md5 of the seed, the source's place in the recipe and the record's
    position. A count above what the filter keeps repeats every record (whole copies) and
    picks the remainder the same way. Order: source, copy, source order; or, with
    `shuffle: true`, by md5 of the seed and the same keys. -#}
{%- set mix = var('mix', none) -%}
{{ config(enabled=(mix is not none), alias=(mix['name'] if mix is not none else 'mix_user')) }}
{%- if mix is not none %}

with
{{ mix_source_ctes(mix) }}
{%- for source in mix.sources %}
{%- set i = loop.index %}
ranked_{{ i }} as (
    select
        *,
        row_number() over (order by
            {%- if source.take in ('all', 'first') %} source_position
            {%- else %} md5('{{ mix.seed }}:{{ i }}:' || source_position)
            {%- endif %}) as pick_rank,
        count(*) over () as n_filtered
    from filtered_{{ i }}
),

selected_{{ i }} as (
    select * exclude (copies), unnest(range(0, copies)) as repeat_index
    from (
        select *, {{ mix_take_target(source, 'n_filtered') }} as wanted, wanted // n_filtered + 1 as copies
        from ranked_{{ i }}
    )
),

picked_{{ i }} as (
    select {{ i }} as source_number, '{{ source.name }}' as mix_source, *
    from selected_{{ i }}
    where repeat_index < wanted // n_filtered
       or (repeat_index = wanted // n_filtered and pick_rank <= wanted % n_filtered)
),
{% endfor %}

picked as (
    {%- for source in mix.sources %}
    select * from picked_{{ loop.index }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (
    select
        id,
        id_json,
        has_image,
        image,
        extra,
        conversations,
        row_number() over (order by
            {%- if mix.shuffle %} md5('{{ mix.seed }}:' || source_number || ':' || repeat_index || ':' || source_position)
            {%- else %} source_number, repeat_index, source_position
            {%- endif %}) - 1 as record_order,
        task,
        image_id,
        block,
        source_file,
        record_index,
        image_prefix,
        mix_source,
        source_position as source_record_index,
        source_number,
        repeat_index
    from picked
)

select * from final
order by record_order
{%- endif %}
