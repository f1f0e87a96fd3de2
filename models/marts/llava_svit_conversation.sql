{#- SVIT's conversation records in LLaVA-1.5 format, in the published order. -#}
{{ llava_records_of_task('conversation') }}
