{#- The records of the official SVIT_core_150K file (model name svit_core_150k) with the SVIT
    block each reads the same as: int_llava_records_matched for that file alone, kept as a
    table so that mix_svit_core_150k joins a finished list instead of computing the match
    inside its own query, where DuckDB keeps the match's hash tables until the records with
    their text are joined and sorted (at 4x the full scale that ran out of DuckDB's memory
    limit: bench/README.md, "What held mix_svit_core_150k's memory", says at which limits). -#}

select
    record_index,
    derived_id,
    instruction
from {{ ref('int_llava_records_matched') }}
where llava_file = 'svit_core_150k'
