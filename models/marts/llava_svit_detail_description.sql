{#- SVIT's detail_description records in LLaVA-1.5 format, in the published order. -#}
{{ llava_records_of_task('detail_description') }}
