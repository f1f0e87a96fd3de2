{#- Every value of the column lies within [min_value, max_value]. -#}
{% test values_between(model, column_name, min_value, max_value) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{#- The model has as many rows per `group_by` value as `compare_model`: e.g. one LLaVA record
    per ingested block, per task. -#}
{% test same_count_per_group(model, group_by, compare_model) %}
with here as (
    select {{ group_by }} as grp, count(*) as n from {{ model }} group by 1
),
there as (
    select {{ group_by }} as grp, count(*) as n from {{ compare_model }} group by 1
)
select coalesce(here.grp, there.grp) as grp, here.n as model_rows, there.n as compare_rows
from here full outer join there on here.grp = there.grp
where here.n is distinct from there.n
{% endtest %}

{#- No two rows share the combination of these columns. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every turn belongs to a block of `blocks` and is numbered within it, 0 to n_turns - 1
    (a join of the numbers alone, cheaper than a count per block: bench/README.md). -#}
{% test turns_within_their_blocks(model, blocks) %}
select turns.task, turns.image_id, turns.block, turns.turn, blocks.n_turns
from {{ model }} as turns
left join {{ blocks }} as blocks using (task, image_id, block)
where turns.turn < 0 or turns.turn >= coalesce(blocks.n_turns, 0)
{% endtest %}
