{#- One row per record of every ingested LLaVA file: its content key and the SVIT block that
    reads the same (macros/recipes/content_match.sql), when there is one. `svit verify` and
    the published mixes both match this way. -#}
{{ llava_records_matched() }}
