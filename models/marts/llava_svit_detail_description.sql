{#- SVIT's detail_description records in LLaVA-1.5 format, in the published order. -#}
{{ config(materialized='sliced_table', slice_by=task_slices('detail_description')) }}

{{ llava_records_of_task('detail_description') }}
