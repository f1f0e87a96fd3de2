{#- SVIT's complex_reasoning records in LLaVA-1.5 format, in the published order. -#}
{{ config(materialized='sliced_table', slice_by=task_slices('complex_reasoning')) }}

{{ llava_records_of_task('complex_reasoning', pairs=true) }}
