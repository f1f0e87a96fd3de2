{#- Generic tests on a LLaVA `conversations` column (list of struct from/value). The dbt hub
    is out of reach, so the few tests the project needs live here. -#}

{#- Turns alternate human / gpt, starting with human. -#}
{% test llava_turns_alternate(model, column_name) %}
with turns as (
    select
        unnest({{ column_name }}) as t,
        generate_subscripts({{ column_name }}, 1) - 1 as turn_index
    from {{ model }}
)
select * from turns
where t."from" <> case when turn_index % 2 = 0 then 'human' else 'gpt' end
{% endtest %}

{#- `<image>` appears exactly once in a record: at the start of its first turn. -#}
{% test image_token_once_at_start(model, column_name) %}
select *
from {{ model }}
where not starts_with({{ column_name }}[1].value, '<image>' || chr(10))
   or len(array_to_string(list_transform({{ column_name }}, lambda t: t.value), chr(0)))
      - len(replace(array_to_string(list_transform({{ column_name }}, lambda t: t.value), chr(0)), '<image>', ''))
      <> len('<image>')
{% endtest %}

{#- Every `[x1, y1, x2, y2]` box in the values reads as numbers within 0..1 (the models hold
    the published grounding, normalised on the padded image). -#}
{% test llava_boxes_within_unit(model, column_name) %}
with boxes as (
    select unnest(regexp_extract_all(t.value, '\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]')) as box
    from (select unnest({{ column_name }}) as t from {{ model }})
)
select box from boxes
where list_min(json_transform(box, '["DOUBLE"]')) < 0 or list_max(json_transform(box, '["DOUBLE"]')) > 1
{% endtest %}
