{#- A user-declared mix (`svit mix RECIPE.yml`): one generic model, enabled only when `svit
    mix` passes the recipe (macro mix_recipe()), and written to a table named by the recipe (the
    alias), so every user mix is a table of its own while the project holds no generated
    SQL. Per source, in recipe order: the filtered records, then `take` of them: all, the
    first N in source order, or N (a count, or a fraction of the filtered records, rounded
    half up) in the source's pick order. `take` is at most what it asks: a count above what
    the filter keeps gives every filtered record once (the source runs short, and the
    manifest says by how many), unless the recipe asks for copies: `upsample: true` repeats
    every record (whole copies) and picks the remainder in the same order up to the count,
    `repeat: k` gives every picked record k times. Order: source, copy, source order; or,
    with `shuffle: true`, by md5 of the seed and the same keys.

    The pick order is md5 of the seed, the source's place in the recipe and the record's
    position (`select: random`, the default), or, with `select: coverage`, phrase rounds
    first: every object phrase (int_object_phrases) nominates the records whose questions
    name it, in that md5 order, and a record's round is its best nomination. Round 1 is,
    for each phrase, the first record that asks about it, so N records picked from round 1
    cover at least N phrases (all of them once N reaches round 1's size), and later rounds
    add each phrase's next record in turn, so no phrase crowds out the others. Records
    whose questions name no phrase come last, in md5 order.

    `yes_no_ratio: r` then balances the answers: of the records picked, those whose first
    answer is a Yes or No answer (`yes_no`, macros/yes_no.sql) are re-chosen as
    round(r * m) Yes and the rest No, each class in pick order, where m is how many Yes/No
    records the pick held (fewer when one class has too few records for the ratio; other
    records fill the places freed, as far as there are any). Such a source never repeats
    records (a recipe cannot ask it to).

    `grounding: G` then rewrites the boxes of the referring records picked (filters and picks
    see the published text), except in sources that hold G already (mixes built in G). -#}
{%- set outline = mix_outline() -%}
{{ config(
    enabled=(outline is not none),
    alias=(outline['name'] if outline is not none else 'mix_user'),
    pre_hook="{{ fill_record_caches(mix_recipe()) }}",
) }}
{%- if outline is not none %}
{{ mix_dependencies(outline) }}
{%- endif %}
{%- set mix = mix_recipe() %}
{%- if mix is not none %}

with
{{ mix_source_ctes(mix) }}
{%- for source in mix.sources %}
{%- set i = loop.index %}

keys_{{ i }} as materialized (
    -- The records the filter keeps, narrow: what the picking below reads, computed once
    -- (each reader of filtered_{{ i }} would number the source and find first answers again),
    -- with each record's place in the seeded order, an md5 the phrase rounds and the ranking
    -- both sort on: as the 128-bit number its hex digits write, which sorts as the text
    -- does, in a fraction of the time a 32-character string takes.
    select
        f.source_position,
        f.source_record,
        {#- A first answer only where yes_no_ratio reads it; a model's from the kept ones
            (the pre-hook), which spares reading every record's turns. #}
        {{ ('a.yes_no' if source.kind == 'model' else 'f.yes_no') if source.yes_no_ratio is not none else 'null::varchar' }} as yes_no,
        ('0x' || md5('{{ mix.seed }}:{{ i }}:' || f.source_position))::uhugeint as seeded
    from filtered_{{ i }} as f
    {%- if source.yes_no_ratio is not none and source.kind == 'model' %}
    left join {{ first_answer_cache() }} as a on a.model = '{{ source.name }}' and a.record_order = f.source_record
    {%- endif %}
),
{%- if source.select == 'coverage' %}

phrase_rounds_{{ i }} as (
    select key as source_position, min(nomination) as phrase_round
    from (
        select key, row_number() over (partition by phrase order by seeded) as nomination
        from (
            {%- if source.kind == 'model' %}
            -- The pairs found once per model (the pre-hook), for the records the filter keeps.
            select k.source_position as key, k.seeded, c.phrase
            from keys_{{ i }} as k
            inner join {{ question_phrase_cache() }} as c
                on c.model = '{{ source.name }}' and c.record_order = k.source_record
            {%- else %}
            select p.key, k.seeded, p.phrase
            from ({{ question_phrases('filtered_' ~ i, 'source_position') }}) as p
            inner join keys_{{ i }} as k on k.source_position = p.key
            {%- endif %}
        )
    )
    group by key
),
{%- endif %}

ranked_{{ i }} as (
    -- Positions only: the choosing below sorts and counts these narrow rows, and the picked
    -- records' text is read once, at the end (at full scale the whole text of a source does
    -- not fit in memory beside the sorts).
    select
        source_position,
        source_record,
        yes_no,
        row_number() over (order by
            {%- if source.take == 'first' %} source_position
            {%- elif source.select == 'coverage' %} phrase_round nulls last, seeded
            {%- else %} seeded
            {%- endif %}) as pick_rank
    from keys_{{ i }}
    {%- if source.select == 'coverage' %}
    left join phrase_rounds_{{ i }} using (source_position)
    {%- endif %}
),
{%- if source.yes_no_ratio is none %}

chosen_{{ i }} as (
    -- `picked` distinct records in pick order, then as many copies of them as make `wanted`:
    -- whole copies, and the remainder in pick order again.
    select source_position, source_record, repeat_index
    from (
        select *, unnest(range(0, copies)) as repeat_index
        from (
            select
                *,
                {{ mix_take_target(source, 'n_filtered') }} as picked,
                {{ mix_take_total(source, 'n_filtered', 'picked') }} as wanted,
                wanted // picked + 1 as copies
            -- The count once (a window over every row would be one more pass beside the sort).
            from ranked_{{ i }}, (select count(*) as n_filtered from keys_{{ i }})
        )
        where pick_rank <= picked
    )
    where repeat_index < wanted // picked
       or (repeat_index = wanted // picked and pick_rank <= wanted % picked)
),
{%- else %}
{%- set ratio = source.yes_no_ratio %}

classed_{{ i }} as (
    select
        *,
        coalesce(yes_no, 'other') as answer_class,
        row_number() over (partition by coalesce(yes_no, 'other') order by pick_rank) as class_rank
    from ranked_{{ i }}
),

sizes_{{ i }} as (
    select
        least({{ mix_take_target(source, 'count(*)') }}, count(*)) as wanted,
        count(*) filter (where answer_class = 'yes') as yes_available,
        count(*) filter (where answer_class = 'no') as no_available,
        count(*) filter (where answer_class = 'other') as other_available
    from classed_{{ i }}
),

quotas_{{ i }} as (
    select
        round({{ ratio }}::double * yes_no_records)::bigint as yes_quota,
        yes_no_records - yes_quota as no_quota,
        least(other_available, wanted - yes_no_records) as other_quota
    from (
        select
            *,
            -- The most Yes/No records the ratio allows with what each class holds (the
            -- 1e-9 keeps a product such as 0.3 * 10 from flooring to 2).
            least(
                (select count(*) from classed_{{ i }} where answer_class <> 'other' and pick_rank <= wanted)
                {%- if ratio > 0 %}, floor(yes_available / {{ ratio }}::double + 1e-9)::bigint{% endif %}
                {%- if ratio < 1 %}, floor(no_available / (1 - {{ ratio }}::double) + 1e-9)::bigint{% endif %}
            ) as yes_no_records
        from sizes_{{ i }}
    )
),

chosen_{{ i }} as (
    select source_position, source_record, 0 as repeat_index
    from classed_{{ i }}, quotas_{{ i }}
    where class_rank <= case answer_class when 'yes' then yes_quota when 'no' then no_quota else other_quota end
),
{%- endif %}

{% endfor %}

numbered as (
    -- The mix's order, numbered on the narrow picks: a window over the picked records would
    -- carry all their text through its sort.
    select
        *,
        row_number() over (order by
            {{- (" md5('" ~ mix.seed ~ ":' || source_number || ':' || repeat_index || ':' || source_position)") if mix.shuffle
                else " source_number, repeat_index, source_position" }}) - 1 as record_order
    from (
        {%- for source in mix.sources %}
        select {{ loop.index }} as source_number, source_position, source_record, repeat_index from chosen_{{ loop.index }}
        {{ 'union all' if not loop.last }}
        {%- endfor %}
    )
),

picked as (
    -- The picked records' text, read once: each source's rows joined to its picks by
    -- source_record (the filter and the drops were applied when the picks were made).
    {%- for source in mix.sources %}
    select n.source_number, '{{ source.name }}' as mix_source, {{ mix_row_columns(between='n.record_order') }}, image_prefix,
        n.source_position, n.repeat_index
    from ({{ mix_source_rows(source, numbered=false) }}) as f
    inner join numbered as n on n.source_number = {{ loop.index }} and n.source_record = f.source_record
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (
    select
        {{- mix_row_columns(between='record_order') }},
        image_prefix,
        mix_source,
        source_position as source_record_index,
        source_number,
        repeat_index
    from picked
)
{%- if mix.grounding.column %}
{%- set grounded_sources = [] %}
{%- for source in mix.sources %}{% if source.grounded %}{% do grounded_sources.append(loop.index) %}{% endif %}{% endfor %}

-- Referring records in the recipe's grounding (macros/grounding.sql), picked as the
-- published text reads: the grounding changes how boxes are written, never which records.
, grounded as (
    {{ regrounded_records('final', ref('int_referring_grounded'), mix.grounding.column,
        keep_instruction=mix.grounding.keep_instruction,
        skip=('r.source_number in (' ~ grounded_sources | join(', ') ~ ')' if grounded_sources else 'false')) }}
)

select * from grounded
{%- else %}

select * from final
{%- endif %}
order by record_order
{%- endif %}
