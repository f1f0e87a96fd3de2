{#- The records of the official SVIT_core_150K file (model name svit_core_150k) with the SVIT
    block each reads the same as: int_llava_records_matched's query for that file alone
    (macros/recipes/content_match.sql), kept as a table so that mix_svit_core_150k joins a
    finished list instead of computing the match inside its own query, where DuckDB keeps
    the match's hash tables until the records with their text are joined and sorted (at 4x
    the full scale that ran out of DuckDB's memory limit: bench/README.md, "What held
    mix_svit_core_150k's memory", says at which limits). -#}

with matched as (
    {{ llava_records_matched('svit_core_150k') }}
)

select
    record_index,
    derived_id,
    instruction
from matched
