{#-
    Facts of source records that do not depend on the recipe, kept between user mixes in two
    tables of svit.duckdb: `svit mix` finds them once per model (mix_user's pre-hook, below)
    and the next mixes read them, while the model stays as it was built: every `svit build`
    (and `svit mix` of a published mix) drops both tables before dbt runs
    (svit/mix/record_cache.py). At full scale finding them is most of a mix's time
    (bench/README.md).

      mix_question_phrases  (model, record_order, phrase): the pairs question_phrases gives
                            (macros/recipes/object_phrases.sql), which `select: coverage`
                            ranks by and the coverage table counts; a model whose questions
                            name no phrase (detail_description) holds one row of nulls,
                            which no join matches, so that its questions are not searched
                            again by every mix;
      mix_first_answers     (model, record_order, yes_no): each record's first answer as
                            Yes / No / null (macros/yes_no.sql), which `yes_no_ratio` balances.
-#}

{% macro question_phrase_cache() -%}
    {{- return(api.Relation.create(database=target.database, schema=target.schema, identifier='mix_question_phrases')) -}}
{%- endmacro %}

{% macro first_answer_cache() -%}
    {{- return(api.Relation.create(database=target.database, schema=target.schema, identifier='mix_first_answers')) -}}
{%- endmacro %}

{#- The models whose pairs a user mix reads from the cache: its coverage sources that are
    models of this project, and the official core set the coverage table compares with. -#}
{% macro cached_phrase_models(mix) -%}
    {%- set names = [] -%}
    {%- for source in mix.sources if source.select == 'coverage' and source.kind == 'model' -%}
        {%- do names.append(source.name) -%}
    {%- endfor -%}
    {%- do names.append('mix_svit_core_150k') -%}
    {{- return(names | unique | list) -}}
{%- endmacro %}

{#- The models whose first answers a user mix reads from the cache: its sources with a
    `yes_no_ratio` that are models of this project. -#}
{% macro cached_answer_models(mix) -%}
    {%- set names = [] -%}
    {%- for source in mix.sources if source.yes_no_ratio is not none and source.kind == 'model' -%}
        {%- do names.append(source.name) -%}
    {%- endfor -%}
    {{- return(names | unique | list) -}}
{%- endmacro %}

{#- mix_user's pre-hook: both tables made, and filled for the models they lack. The recipe
    is there only when dbt runs the model (mix_recipe()); the models named here are among its
    dependencies by the outline (mix_dependencies). -#}
{% macro fill_record_caches(mix) -%}
    {%- if execute and mix is not none -%}
        {%- set phrases, answers = question_phrase_cache(), first_answer_cache() -%}
        {%- set phrase_models, answer_models = {}, {} -%}
        {%- for name in cached_phrase_models(mix) -%}
            {%- do phrase_models.update({name: ref(name)}) -%}
        {%- endfor -%}
        {%- for name in cached_answer_models(mix) -%}
            {%- do answer_models.update({name: ref(name)}) -%}
        {%- endfor -%}
        {%- do run_query('create table if not exists ' ~ phrases ~ ' (model varchar, record_order bigint, phrase varchar)') -%}
        {%- do run_query('create table if not exists ' ~ answers ~ ' (model varchar, record_order bigint, yes_no varchar)') -%}
        {%- set held = run_query('select distinct model from ' ~ phrases).columns[0].values() -%}
        {%- for name, relation in phrase_models.items() if name not in held %}
insert into {{ phrases }}
select '{{ name }}', key, phrase from ({{ question_phrases(relation, 'record_order') }});
insert into {{ phrases }}
select '{{ name }}', null, null where not exists (select 1 from {{ phrases }} where model = '{{ name }}');
        {%- endfor -%}
        {%- set held = run_query('select distinct model from ' ~ answers).columns[0].values() -%}
        {%- for name, relation in answer_models.items() if name not in held %}
insert into {{ answers }}
select '{{ name }}', record_order, {{ yes_no_first_answer('conversations') }} from {{ relation }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
