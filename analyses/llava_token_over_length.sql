{#- Per LLaVA model or mix, family and tokenizer counted by `svit tokens`: how many records
    are longer than the trainer's cut-off (var `stats_max_length`, `svit stats --max-length`;
    else the family's usual one, var `stats_family_max_length`), and how many could not be
    judged because their image size is unknown. Run only when record_tokens exists (see
    llava_token_lengths). -#}
{%- set max_length = var('stats_max_length', none) %}
{%- set family_max = var('stats_family_max_length', {}) %}
with cut_offs as (
    -- The families' usual cut-offs (a first entry that no family has, so the lists are never empty).
    select
        unnest([''{% for name in family_max %}, '{{ name }}'{% endfor %}]) as cut_off_family,
        unnest([null::bigint{% for name in family_max %}, {{ family_max[name] }}{% endfor %}]) as family_max_length
),

counted as (
    select
        r.model,
        r.family,
        r.tokenizer,
        r.total_tokens,
        coalesce({{ max_length or 'null' }}, c.family_max_length) as max_length
    from record_tokens as r
    left join cut_offs as c on r.family = c.cut_off_family
    where {{ is_profiled_model('r.model') }}
),

final as (
    select
        model,
        family,
        tokenizer,
        any_value(max_length) as max_length,
        count(*) as records,
        count(total_tokens) as counted,
        count(*) filter (where total_tokens > max_length) as over, -- noqa: RF04
        count(*) filter (where total_tokens > max_length) / nullif(count(total_tokens), 0) as over_share,
        count(*) - count(total_tokens) as size_unknown,
        max(total_tokens) as longest
    from counted
    group by all
)

select * from final
order by model, family, tokenizer
