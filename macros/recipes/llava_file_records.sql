{#- The records of one ingested LLaVA file, with their turns gathered as a LLaVA
    `conversations` list and a hash of the turns (role and text) to compare records by. -#}
{% macro llava_file_records(llava_file) -%}
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
        coalesce(turns.conversations, []::struct("from" varchar, "value" varchar)[]) as conversations,
        coalesce(turns.turns_hash, md5('')) as turns_hash
    from {{ ref('stg_llava__records') }} as records
    left join (
        -- Gathered unordered and sorted by turn within each list (as macros/llava_records.sql
        -- does, for the memory of large files).
        select
            record_index,
            list_transform(turns, lambda t: {'from': t.role, 'value': t.text}) as conversations,
            md5(list_aggregate(list_transform(turns, lambda t: t.role || chr(31) || t.text), 'string_agg', chr(30)))
                as turns_hash
        from (
            select
                record_index,
                list_sort(list({'turn': turn, 'role': role, 'text': text})) as turns
            from {{ ref('stg_llava__turns') }}
            where llava_file::varchar = '{{ llava_file }}'
            group by record_index
        ) as gathered
    ) as turns using (record_index)
    where records.llava_file::varchar = '{{ llava_file }}'
{%- endmacro %}

{#- The folder an image path starts with (coco, vg, gqa, ocr_vqa, textvqa), `none` for a
    text-only record. -#}
{% macro image_prefix(image) -%}
    coalesce(nullif(split_part({{ image }}, '/', 1), ''), 'none')
{%- endmacro %}
