{#-
    A table built in slices of its records, so that its largest step does not grow with the
    data: each slice is the model's SQL with its filters `in_slice(column)` narrowed to that
    slice's range of the column, the first slice creates the table and the others append to
    it in order. A task model gathers each block's turns into a list: over the whole task,
    DuckDB holds every list of the task in one hash table at once (its memory and time grew
    faster than the data, bench/README.md "Build: the task models in slices"); a slice holds
    one slice's lists.

    Config, `slice_by`:
        relation  the model the slices are planned over (the model must `ref` it);
        where     which of its rows (SQL);
        order     the column slices are ranges of, in order (not null); the model sorts by
                  something that follows it, so that the slices appended in turn keep the
                  table in the model's order;
        weight    the rows a slice covers per row of `relation` (an expression; e.g. turns);
        rows      how much weight one slice covers at most: the fewest slices that allows,
                  of about equal weight (one value of `order` is never split, so a slice
                  may weigh a little more);
        ranges    the columns whose range within each slice narrows the model's filters
                  (`order` among them; each not null).

    `in_slice(column)` is `true` outside this materialization (`dbt show`, unit tests, any
    other materialization): the model is then read whole. The new table replaces the old one
    only when every slice is in (one transaction, renamed at the end as dbt's tables are).
-#}

{#- The model's filter on `column` for the slice being built. -#}
{% macro in_slice(column) -%}
    (true /* svit slice: {{ column }} */)
{%- endmacro %}

{#- The model's SQL with every in_slice() narrowed to the slice's ranges (a dict: column ->
    [low, high]); no ranges: no rows. -#}
{% macro sliced_sql(sql, ranges, columns) -%}
    {%- set ns = namespace(sql=sql) -%}
    {%- for column in columns -%}
        {%- set marker = '(true /* svit slice: ' ~ column ~ ' */)' -%}
        {%- if ranges is none -%}
            {%- set narrowed = '(false)' -%}
        {%- else -%}
            {%- set narrowed = '(' ~ column ~ ' between ' ~ ranges[column][0] ~ ' and ' ~ ranges[column][1] ~ ')' -%}
        {%- endif -%}
        {%- set ns.sql = ns.sql.replace(marker, narrowed) -%}
    {%- endfor -%}
    {{- return(ns.sql) -}}
{%- endmacro %}

{#- The slices: one row per slice, in order, with each range's low and high. Rows of
    `relation` that share a value of `order` fall into one slice. -#}
{% macro slice_plan(slice_by) -%}
    {%- set order = slice_by['order'] -%}
    {%- set columns = slice_by['ranges'] -%}
    {%- call statement('slice_plan', fetch_result=True) -%}
        with keyed as (
            select
                {{ order }} as slice_key,
                coalesce(sum({{ slice_by['weight'] }}), 0) as weight
                {%- for column in columns %},
                min({{ column }}) as low_{{ loop.index }},
                max({{ column }}) as high_{{ loop.index }}
                {%- endfor %}
            from {{ ref(slice_by['relation']) }}
            where {{ slice_by['where'] }}
            group by {{ order }}
        ),

        placed as (
            select
                *,
                sum(weight) over (order by slice_key rows unbounded preceding) - weight as weight_before,
                greatest(sum(weight) over (), 1) as total
            from keyed
        ),

        numbered as (
            -- As few slices as `rows` allows, of equal weight: no small slice at the end.
            select
                *,
                floor(weight_before * ceil(total / {{ slice_by['rows'] }}) / total) as slice
            from placed
        )

        select
            slice
            {%- for column in columns %},
            min(low_{{ loop.index }}),
            max(high_{{ loop.index }})
            {%- endfor %}
        from numbered
        group by slice
        order by slice
    {%- endcall -%}
    {%- set plan = [] -%}
    {%- for row in load_result('slice_plan')['data'] -%}
        {%- set ranges = {} -%}
        {%- for column in columns -%}
            {%- do ranges.update({column: [row[2 * loop.index - 1], row[2 * loop.index]]}) -%}
        {%- endfor -%}
        {%- do plan.append(ranges) -%}
    {%- endfor -%}
    {{- return(plan) -}}
{%- endmacro %}

{% materialization sliced_table, adapter='duckdb' %}
    {%- set slice_by = config.require('slice_by') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set plan = slice_plan(slice_by) -%}
    {%- set columns = slice_by['ranges'] -%}
    {#- No slice (nothing to read): the table is created empty, with the model's columns. -#}
    {%- set first_ranges = plan[0] if plan else none -%}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, sliced_sql(compiled_code, first_ranges, columns)) }}
    {%- endcall %}
    {%- for ranges in plan[1:] %}
        {% call statement('slice_' ~ loop.index) -%}
            insert into {{ intermediate_relation }}
            {{ sliced_sql(compiled_code, ranges, columns) }}
        {%- endcall %}
    {%- endfor %}
    {{ log(this.identifier ~ ': ' ~ (plan | length) ~ ' slices', info=True) }}

    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
