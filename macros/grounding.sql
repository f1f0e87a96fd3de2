{#-
    Referring boxes in the grounding syntax of each model family (docs/models.md, "Groundings").

    A referring turn marks each object as `<st>phrase<ed> [x1, y1, x2, y2], [...]`, the
    numbers normalised to the original image. `grounded_mark(g, ...)` writes one such mark
    (its phrase and its list of boxes) as family `g` writes it; the published form (`svit`,
    boxes on the image padded to a square) is the LLaVA models' own (int_turns_rendered).
-#}

{% macro grounding_names() -%}
    {{ return(['original', 'pixels', 'qwen_vl', 'qwen2_vl', 'qwen2_5_vl', 'internvl', 'plain_phrase']) }}
{%- endmacro %}

{#- A coordinate on 0..1000 of the original image: round(px / side * 1000), px = v * side
    (Python's round: ties to even), kept within 0..1000. -#}
{% macro per_mille(v, side) -%}
    least(greatest(round_even(({{ v }} * {{ side }}) / {{ side }} * 1000, 0), 0), 1000)::bigint
{%- endmacro %}

{#- A coordinate in pixels of the original image, as BAAI's converter rounds it. -#}
{% macro pixel(v, side) -%}
    round_even({{ v }} * {{ side }}, 0)::bigint
{%- endmacro %}

{#- A coordinate in pixels of the image Qwen2.5-VL's processor resizes to `resized` (qwen-vl-finetune's
    tools/process_bbox.ipynb: round(px * (resized / side)), within 0..resized - 1). -#}
{% macro resized_pixel(v, side, resized) -%}
    least(greatest(round_even(({{ v }} * {{ side }}) * ({{ resized }} / {{ side }}), 0), 0), {{ resized }} - 1)::bigint
{%- endmacro %}

{#- One side of Qwen2-VL's smart_resize (transformers, image_processing_qwen2_vl.py): the
    nearest multiple of 28, scaled down or up to keep the pixel count within the vars
    qwen_min_pixels and qwen_max_pixels. -#}
{% macro smart_resize(side, width, height) -%}
    {%- set min_pixels = var('qwen_min_pixels') -%}
    {%- set max_pixels = var('qwen_max_pixels') -%}
    {%- for name, value in [('qwen_min_pixels', min_pixels), ('qwen_max_pixels', max_pixels)] -%}
        {%- if value is not number or value is boolean or value < 784 -%}
            {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a whole number of pixels, at least 784 (one 28x28 patch), not " ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    case
        when round_even({{ width }} / 28, 0) * round_even({{ height }} / 28, 0) * 784 > {{ max_pixels }}
            then floor({{ side }} / sqrt({{ width }} * {{ height }} / {{ max_pixels }}) / 28) * 28
        when round_even({{ width }} / 28, 0) * round_even({{ height }} / 28, 0) * 784 < {{ min_pixels }}
            then ceil({{ side }} * sqrt({{ min_pixels }} / ({{ width }} * {{ height }})) / 28) * 28
        else round_even({{ side }} / 28, 0) * 28
    end::bigint
{%- endmacro %}

{#- The text of one mark in grounding `g`: `phrase` is its phrase, `boxes` a list of structs
    {x1, y1, x2, y2, box_text}; `w`, `h` the original size, `rw`, `rh` Qwen2.5-VL's resized one. -#}
{% macro grounded_mark(g, phrase, boxes, w, h, rw, rh) -%}
    {%- set corners = {
        'qwen_vl': ("'<box>(' || " ~ per_mille('b.x1', w) ~ " || ',' || " ~ per_mille('b.y1', h) ~ " || '),(' || "
                    ~ per_mille('b.x2', w) ~ " || ',' || " ~ per_mille('b.y2', h) ~ " || ')</box>'", "''"),
        'qwen2_vl': ("'<|box_start|>(' || " ~ per_mille('b.x1', w) ~ " || ',' || " ~ per_mille('b.y1', h) ~ " || '),(' || "
                     ~ per_mille('b.x2', w) ~ " || ',' || " ~ per_mille('b.y2', h) ~ " || ')<|box_end|>'", "''"),
        'qwen2_5_vl': ("'<|box_start|>(' || " ~ resized_pixel('b.x1', w, rw) ~ " || ',' || " ~ resized_pixel('b.y1', h, rh)
                       ~ " || '),(' || " ~ resized_pixel('b.x2', w, rw) ~ " || ',' || " ~ resized_pixel('b.y2', h, rh)
                       ~ " || ')<|box_end|>'", "''"),
        'internvl': ("'[' || " ~ per_mille('b.x1', w) ~ " || ', ' || " ~ per_mille('b.y1', h) ~ " || ', ' || "
                     ~ per_mille('b.x2', w) ~ " || ', ' || " ~ per_mille('b.y2', h) ~ " || ']'", "', '"),
        'pixels': ("'[' || " ~ pixel('b.x1', w) ~ " || ', ' || " ~ pixel('b.y1', h) ~ " || ', ' || "
                   ~ pixel('b.x2', w) ~ " || ', ' || " ~ pixel('b.y2', h) ~ " || ']'", "', '"),
        'original': ("b.box_text", "', '"),
    } -%}
    {%- if g == 'plain_phrase' -%}
        {{ phrase }}
    {%- else -%}
        {%- set box, between = corners[g] -%}
        {%- set listed = "array_to_string(list_transform(" ~ boxes ~ ", lambda b: " ~ box ~ "), " ~ between ~ ")" -%}
        {%- if g in ('original', 'pixels') -%}
            {{ phrase }} || ' ' || {{ listed }}
        {%- elif g == 'qwen_vl' -%}
            '<ref>' || {{ phrase }} || '</ref>' || {{ listed }}
        {%- elif g == 'internvl' -%}
            '<ref>' || {{ phrase }} || '</ref><box>[' || {{ listed }} || ']</box>'
        {%- else -%}
            '<|object_ref_start|>' || {{ phrase }} || '<|object_ref_end|>' || {{ listed }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- A referring turn's `text` with its marks rewritten: `spans` is the turn's list of
    {span_start, span_end, <grounding>: the mark as written} in order (offsets in characters,
    span_end exclusive); the text before each mark, the mark, then the text after the last.
    `<st>`/`<ed>` left (a mark without boxes) are dropped. -#}
{% macro spliced_text(text, spans, g) -%}
    case
        when {{ spans }} is null then replace(replace({{ text }}, '<st>', ''), '<ed>', '')
        else replace(replace(
            array_to_string(
                list_transform(
                    {{ spans }},
                    lambda s, i: substr(
                        {{ text }},
                        coalesce({{ spans }}[i - 1].span_end, 0) + 1,
                        s.span_start - coalesce({{ spans }}[i - 1].span_end, 0)
                    ) || s.{{ g }}
                ),
                ''
            ) || substr({{ text }}, {{ spans }}[-1].span_end + 1),
            '<st>', ''), '<ed>', '')
    end
{%- endmacro %}

{#- `records` (a relation with the LLaVA columns and the SVIT lineage `task`, `image_id`,
    `block`) with every referring record's turns rewritten in another grounding: `column` is
    the int_referring_grounded column of that grounding (text_internvl, ...), `grounded` that
    relation. In each turn's value the published text (`text_svit`, after the `<image>\n`
    of turn 0) is replaced by the grounding's; what follows it, the instruction of a question,
    is kept, unless `keep_instruction` is false (plain-phrase: there are no boxes to ask for).
    Records of `skip` (a SQL predicate on the record, `r`) are left as they are. A value that
    does not hold the published text where it should stops the query: the record is not as
    the LLaVA models wrote it, and a splice would corrupt it. -#}
{% macro regrounded_records(records, grounded, column, keep_instruction=true, skip='false') -%}
    select
        -- sqlfluff's duckdb dialect cannot parse `lambda t, i:` (two parameters) -- noqa: disable=PRS
        r.* replace (
            case
                when g.turns is null then r.conversations
                when len(g.turns) <> len(r.conversations)
                    then error('record ' || r.id || ' has ' || len(r.conversations) || ' turns, its SVIT block '
                        || len(g.turns) || ': it cannot take another grounding')
                else list_transform(r.conversations, lambda t, i: {
                    'from': t."from",
                    'value': case
                        when substr(t.value, g.turns[i].body_start + 1, length(g.turns[i].text_svit)) = g.turns[i].text_svit
                            then substr(t.value, 1, g.turns[i].body_start) || g.turns[i].text
                            {%- if keep_instruction %}
                            || substr(t.value, g.turns[i].body_start + length(g.turns[i].text_svit) + 1)
                            {%- endif %}
                        else error('record ' || r.id || ' turn ' || (i - 1)
                            || ' does not hold the published text: it cannot take another grounding')
                    end
                })
            end as conversations
        )
        -- noqa: enable=PRS
    from {{ records }} as r
    left join (
        select
            image_id,
            block,
            list({ 'body_start': body_start, 'text_svit': text_svit, 'text': {{ column }} } order by turn) as turns
        from {{ grounded }}
        group by image_id, block
    ) as g
        on r.task = 'referring_qa' and r.image_id = g.image_id and r.block = g.block and not ({{ skip }})
{%- endmacro %}
