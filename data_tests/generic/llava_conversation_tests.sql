{#- Generic tests on a LLaVA `conversations` column (list of struct from/value). The dbt hub
    is out of reach, so the few tests the project needs live here. -#}

{#- Every record of a LLaVA-1.5 model is well formed, each rule read in one pass over the
    records (a pass per rule read every turn three times: bench/README.md). A failing row
    names the rule it breaks:
    - `no turns`;
    - `turns do not alternate`: human first, then gpt, human, ...;
    - `<image> not once at the start`: `<image>` appears exactly once, opening the first turn;
    - `box outside 0..1`: no `[x1, y1, x2, y2]` in the values (four unsigned decimals, as BAAI's
      regex finds boxes) has a number above 1 (the models hold the published grounding,
      normalised on the padded image).
    Each turn is read where it lies in the list, by functions that answer yes or no (contains,
    regexp_matches), not joined into one text and searched: that copied every record's text
    twice (bench/README.md, "The referring boxes converted in their turn"). -#}
{% test llava_conversations_well_formed(model, column_name) %}
{%- set number = '[0-9.]+' %}
{#- A number above 1: an integer part of 2 or more (leading zeros aside), or 1 and a fraction
    that is not all zeros; the rest of the number after it. #}
{%- set over_one = '0*(?:[2-9]|1[0-9]|1\\.[0-9]*[1-9])[0-9.]*' %}
{%- set box_over_one = '\\[(?:' ~ over_one ~ ', ' ~ number ~ ', ' ~ number ~ ', ' ~ number
    ~ '|' ~ number ~ ', ' ~ over_one ~ ', ' ~ number ~ ', ' ~ number
    ~ '|' ~ number ~ ', ' ~ number ~ ', ' ~ over_one ~ ', ' ~ number
    ~ '|' ~ number ~ ', ' ~ number ~ ', ' ~ number ~ ', ' ~ over_one ~ ')\\]' %}
with records as (
    select
        *,
        list_transform({{ column_name }}, lambda t: t."from") as turn_roles,
        list_transform({{ column_name }}, lambda t: contains(t.value, '<image>')) as turns_with_token,
        list_transform({{ column_name }}, lambda t: regexp_matches(t.value, '{{ box_over_one }}')) as turns_with_box_over_one
    from {{ model }}
),

judged as (
    select
        *,
        case
            when len({{ column_name }}) = 0 then 'no turns'
            when turn_roles <> list_transform(
                range(len(turn_roles)), lambda i: case when i % 2 = 0 then 'human' else 'gpt' end
            ) then 'turns do not alternate'
            when not starts_with({{ column_name }}[1].value, '<image>' || chr(10))
                or contains(substr({{ column_name }}[1].value, 2), '<image>')
                or list_bool_or(turns_with_token[2:])
                then '<image> not once at the start'
            when list_bool_or(turns_with_box_over_one) then 'box outside 0..1'
        end as broken_rule
    from records
)

select * from judged
where broken_rule is not null
{% endtest %}
