{#- SVIT in LLaVA-1.5 format, all four tasks, in the order of the published files (task,
    then source record, then block): the four task models one after the other. -#}
{%- set tasks = ['conversation', 'complex_reasoning', 'detail_description', 'referring_qa'] %}

with final as (
    {% for task in tasks %}
        select
            id,
            image,
            conversations,
            task,
            image_id,
            block,
            source_file,
            record_index,
            record_order
        from {{ ref('llava_svit_' ~ task) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
order by record_order
