{#- SVIT's complex_reasoning records in LLaVA-1.5 format, in the published order. -#}
{{ llava_records_of_task('complex_reasoning') }}
