{#- SVIT's referring_qa records in LLaVA-1.5 format, in the published order. -#}
{{ config(materialized='sliced_table', slice_by=task_slices('referring_qa')) }}

{{ llava_records_of_task('referring_qa') }}
