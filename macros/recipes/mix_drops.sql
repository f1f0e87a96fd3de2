{#- The records of a recipe source that its drops leave out (svit/mix/drops.py checked them
    against the tables read here): one row per record and reason, keyed by `source_record`
    (record_order of a model or mix, record_index of an ingested file), the key under which
    `svit tokens` and `svit check` wrote them.

      max_tokens                a total over the limit, in the family and tokenizer named;
      max_tokens: size unknown  no total (the image size is unknown): not judged, so not kept;
      exclude: <rule>           a finding of `svit check` under that rule;
      images: <problem>         an image file of the record has that problem (`svit images`:
                                missing, unreadable, mislabelled, size_mismatch, cmyk). -#}
{% macro mix_dropped_records(source, i) -%}
{%- set drops = source.drops %}
{%- set model = "'" ~ source.name | replace("'", "''") ~ "'" %}
{%- set parts = [] %}
{%- if drops.max_tokens %}
{%- set tokens = drops.max_tokens %}
{%- do parts.append(
    "select record as source_record, case when total_tokens is null then 'max_tokens: size unknown' "
    ~ "else 'max_tokens' end as reason from " ~ command_relation('record_tokens')
    ~ " where model = " ~ model ~ " and family = '" ~ tokens.family ~ "' and tokenizer_fingerprint = '"
    ~ tokens.fingerprint ~ "' and (total_tokens is null or total_tokens > " ~ tokens.limit ~ ")") %}
{%- endif %}
{%- if drops.exclude %}
{%- do parts.append(
    "select distinct record_index as source_record, 'exclude: ' || rule as reason from "
    ~ command_relation('check_results') ~ " where model = " ~ model ~ " and record_index is not null and rule in ('"
    ~ drops.exclude | join("', '") ~ "')") %}
{%- endif %}
{%- if drops.images_ok and source.kind == 'llava_file' %}
{#- Every image of an ingested file's records (its media rows), not only a one-image `image`. -#}
{%- do parts.append(
    "select distinct m.record_index as source_record, 'images: ' || f.problem as reason from "
    ~ ref('stg_llava__media') ~ " as m inner join " ~ command_relation('image_files')
    ~ " as f on f.path = m.path where m.llava_file = " ~ model ~ " and m.kind = 'image' and f.problem is not null") %}
{%- elif drops.images_ok %}
{%- do parts.append(
    "select s.source_record, 'images: ' || f.problem as reason from source_" ~ i ~ " as s inner join "
    ~ command_relation('image_files') ~ " as f on f.path = s.image where f.problem is not null") %}
{%- endif %}
    {{ parts | join('\n    union all\n    ') }}
{%- endmacro %}

{#- A table `svit tokens` or `svit check` writes into the warehouse beside the models (not a
    dbt relation: nothing to ref). -#}
{% macro command_relation(name) -%}
    {{ api.Relation.create(database=target.database, schema=target.schema, identifier=name) }}
{%- endmacro %}
