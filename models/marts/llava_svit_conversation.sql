{#- SVIT's conversation records in LLaVA-1.5 format, in the published order. -#}
{{ config(materialized='sliced_table', slice_by=task_slices('conversation')) }}

{{ llava_records_of_task('conversation') }}
