{#- Tests of the published mixes (models/marts/mixes/_mixes__models.yml). -#}

{#- Every record of an ingested official file found its SVIT block: lists the unmatched. -#}
{% test official_records_all_matched(model, llava_file) %}
select record_index, id
from {{ ref('stg_llava__records') }}
where llava_file::varchar = '{{ llava_file }}'
  and record_index not in (select official_record_index from {{ model }})
{% endtest %}

{#- The model has rows whenever the LLaVA files it is made from are all ingested; when some
    but not all are, one row naming those missing (the mix is then built empty). -#}
{% test llava_files_present(model, llava_files) %}
with wanted as (
    select unnest({{ sql_strings(llava_files) }}) as llava_file
),
present as (
    select distinct llava_file::varchar as llava_file from {{ ref('stg_llava__records') }}
)
select wanted.llava_file as missing
from wanted
where wanted.llava_file not in (select llava_file from present)
  and exists (select 1 from present where llava_file in (select llava_file from wanted))
{% endtest %}

{#- The model is not empty when all its LLaVA files are ingested. -#}
{% test not_empty_when_files_present(model, llava_files) %}
select 'empty although {{ llava_files | join(", ") }} are ingested' as problem
where (select count(distinct llava_file) from {{ ref('stg_llava__records') }}
       where list_contains({{ sql_strings(llava_files) }}, llava_file::varchar)) = {{ llava_files | length }}
  and not exists (select 1 from {{ model }})
{% endtest %}

{#- A list of names as a SQL list of strings. -#}
{% macro sql_strings(names) -%}
    [{% for name in names %}'{{ name | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %}]
{%- endmacro %}
