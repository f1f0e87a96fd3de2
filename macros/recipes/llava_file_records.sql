{#- The records of one ingested LLaVA file, with their turns gathered as a LLaVA
    `conversations` list and a hash of the turns (role and text) to compare records by. With
    `hash_ids` (a relation with an `id` column), only the records whose id is among them are
    hashed, the others' turns_hash being null: the hash reads all of a record's text. -#}
{% macro llava_file_records(llava_file, hash_ids=none) -%}
    select
        records.llava_file,
        records.record_index,
        records.id,
        records.id_json,
        records.id_type,
        records.has_image,
        records.image,
        records.extra,
        records.media,
        coalesce(
            list_transform(turns.turns, lambda t: {'from': t.role, 'value': t.text}),
            []::struct("from" varchar, "value" varchar)[]
        ) as conversations,
        {%- set hashed = "md5(coalesce(list_aggregate(list_transform(turns.turns, lambda t: t.role || chr(31) || t.text), 'string_agg', chr(30)), ''))" %}
        {%- if hash_ids is none %}
        {{ hashed }} as turns_hash
        {%- else %}
        case when records.id in (select hash_ids.id from {{ hash_ids }} as hash_ids) then {{ hashed }} end as turns_hash
        {%- endif %}
    from {{ ref('stg_llava__records') }} as records
    left join (
        -- Gathered unordered and sorted by turn within each list (as macros/llava_records.sql
        -- does, for the memory of large files).
        select
            record_index,
            list_sort(list({'turn': turn, 'role': role, 'text': text})) as turns
        from {{ ref('stg_llava__turns') }}
        where llava_file::varchar = '{{ llava_file }}'
        group by record_index
    ) as turns using (record_index)
    where records.llava_file::varchar = '{{ llava_file }}'
{%- endmacro %}

{#- The folder an image path starts with (coco, vg, gqa, ocr_vqa, textvqa), `none` for a
    text-only record. -#}
{% macro image_prefix(image) -%}
    coalesce(nullif(split_part({{ image }}, '/', 1), ''), 'none')
{%- endmacro %}
