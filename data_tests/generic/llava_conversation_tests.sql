{#- Generic tests on a LLaVA `conversations` column (list of struct from/value). The dbt hub
    is out of reach, so the few tests the project needs live here. -#}

{#- Every record of a LLaVA-1.5 model is well formed, each rule read in one pass over the
    records (a pass per rule read every turn three times: bench/README.md). A failing row
    names the rule it breaks:
    - `no turns`;
    - `turns do not alternate`: human first, then gpt, human, ...;
    - `<image> not once at the start`: `<image>` appears exactly once, opening the first turn;
    - `box outside 0..1`: every `[x1, y1, x2, y2]` in the values reads as numbers within 0..1
      (the models hold the published grounding, normalised on the padded image). -#}
{% test llava_conversations_well_formed(model, column_name) %}
{%- set box = '\\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\]' %}
with records as (
    select
        *,
        list_transform({{ column_name }}, lambda t: t."from") as turn_roles,
        array_to_string(list_transform({{ column_name }}, lambda t: t.value), chr(0)) as turn_values
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
            when not starts_with(turn_values, '<image>' || chr(10))
                -- Bytes, not characters: the same difference (the token is ASCII), without a pass
                -- over the text to count its characters.
                or strlen(turn_values) - strlen(replace(turn_values, '<image>', '')) <> strlen('<image>')
                then '<image> not once at the start'
            when list_bool_or(list_transform(
                regexp_extract_all(turn_values, '{{ box }}'),
                lambda b: list_min(json_transform(b, '["DOUBLE"]')) < 0 or list_max(json_transform(b, '["DOUBLE"]')) > 1
            )) then 'box outside 0..1'
        end as broken_rule
    from records
)

select * from judged
where broken_rule is not null
{% endtest %}
