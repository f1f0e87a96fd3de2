{#-
    Matching LLaVA records to SVIT's original blocks by content (`svit verify`, the published
    mixes). The official files' ids are in a format of their own, so a record is known by its
    image and the text of its turns with what BAAI's conversion changes taken out: the
    `<image>` token, `<st>`/`<ed>`, the numbers inside boxes and the instruction after a
    referring question. The same normalisation applied to an original turn gives the same
    text as applied to its LLaVA rendering, so the original side needs no rendering at all
    (and the key does not depend on the instruction var).
-#}

{#- The instructions as a regex alternation, from referring_instructions() (the one list). -#}
{% macro referring_instruction_pattern() -%}
    {%- set sentences = modules.re.findall("'([^']*)'", referring_instructions()) -%}
    {{- sentences | map('replace', '.', '\\.') | join('|') -}}
{%- endmacro %}

{#- One turn's text with what the conversion changes taken out. -#}
{% macro content_match_text(text) -%}
    regexp_replace(
        regexp_replace(
            replace(replace(replace({{ text }}, '<image>' || chr(10), ''), '<st>', ''), '<ed>', ''),
            '\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]', '[]', 'g'),
        ' ({{ referring_instruction_pattern() }})$', '')
{%- endmacro %}

{#- One turn's part of the matching key: the md5 of its normalised text (32 bytes a turn to
    gather, not the text). -#}
{% macro content_turn_key(text) -%}
    md5({{ content_match_text(text) }})
{%- endmacro %}

{#- A group's turn keys joined in turn order: the aggregate of a GROUP BY over turns. Gathered
    unordered and sorted inside each list, not `string_agg(... order by turn)`: DuckDB holds
    the input of an ordered aggregate in memory it cannot spill, and at 4x the full scale
    int_llava_records_matched then ran out of DuckDB's memory limit (the limits tried are in
    bench/README.md, "What held mix_svit_core_150k's memory"). -#}
{% macro content_turn_keys(turn, turn_key) -%}
    array_to_string(list_transform(list_sort(list({ 'turn': {{ turn }}, 'key': {{ turn_key }} })), lambda k: struct_extract(k, 'key')), chr(31))
{%- endmacro %}

{#- The matching key of a record: md5 of its image and its turns' keys joined in turn order. -#}
{% macro content_record_key(image, turn_keys) -%}
    md5(coalesce({{ image }}, '') || chr(31) || {{ turn_keys }})
{%- endmacro %}

{#- The instruction that ends a referring question, or null. -#}
{% macro instruction_of(question) -%}
    nullif(regexp_extract({{ question }}, ' ({{ referring_instruction_pattern() }})$', 1), '')
{%- endmacro %}

{#- A LLaVA conversations list with `instruction` in place of the instruction ending each
    human turn (none when `instruction` is null). -#}
{% macro with_instruction(conversations, instruction) -%}
    list_transform({{ conversations }}, lambda t: {
        'from': t."from",
        'value': case when t."from" = 'human'
            then regexp_replace(t.value, ' ({{ referring_instruction_pattern() }})$', '') || coalesce(' ' || {{ instruction }}, '')
            else t.value end})
{%- endmacro %}
