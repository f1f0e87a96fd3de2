"""Every setting read from the environment, in one place; nothing else reads `os.environ`.

| variable | default | what it changes |
|---|---|---|
| `SVIT_WAREHOUSE` | `./warehouse` | the warehouse directory when `--warehouse` is not given |
| `SVIT_DUCKDB_THREADS` | the machine's cores | DuckDB threads of `svit build` (profiles.yml) and `svit export` |
| `SVIT_DUCKDB_MEMORY` | `4GB` | DuckDB's memory limit in `svit build` (profiles.yml); past it DuckDB spills to disk |
| `SVIT_INGEST_MEMORY_LIMIT` | `1GB` | DuckDB's memory limit in `svit ingest`; past it DuckDB spills to disk |
| `SVIT_EXPORT_MEMORY` | `1GB` | DuckDB's memory limit in `svit export` |
| `SVIT_TOKENS_MEMORY` | `1500MB` | DuckDB's memory limit in `svit tokens`; past it DuckDB spills to disk |
| `SVIT_STATS_MEMORY` | `1.5GB` | DuckDB's memory limit in `svit stats`; past it DuckDB spills to disk |

`svit build` also sets `SVIT_TABLES` for dbt (the snapshot folder the views read); it is not
a user setting. bench/README.md has what the limits cost and save.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE = Path("warehouse")
WAREHOUSE_VAR = "SVIT_WAREHOUSE"
# What `svit mix` hands to dbt of a recipe (dbt_environment): its outline, read when dbt parses
# the mix models, and the whole recipe, read only when it runs them.
MIX_OUTLINE_VAR = "SVIT_MIX_OUTLINE"
MIX_RECIPE_VAR = "SVIT_MIX_RECIPE"


def warehouse_dir() -> str | None:
    return os.environ.get(WAREHOUSE_VAR)


def duckdb_threads() -> int:
    return int(os.environ.get("SVIT_DUCKDB_THREADS", os.cpu_count() or 2))


def ingest_memory_limit() -> str:
    return os.environ.get("SVIT_INGEST_MEMORY_LIMIT", "1GB")


def export_memory_limit() -> str:
    return os.environ.get("SVIT_EXPORT_MEMORY", "1GB")


def tokens_memory_limit() -> str:
    return os.environ.get("SVIT_TOKENS_MEMORY", "1500MB")


def stats_memory_limit() -> str:
    # Without a limit DuckDB keeps what it reads, up to 80% of the machine's memory, so the
    # report's peak grew with the data (bench/README.md, "Scaling").
    return os.environ.get("SVIT_STATS_MEMORY", "1.5GB")


def dbt_environment(warehouse_root: Path, tables: Path, mix_recipe: dict[str, str] | None = None) -> dict[str, str]:
    """The environment dbt runs in: ours, plus where the warehouse and the snapshot it reads are,
    and the recipe `svit mix` builds (MIX_OUTLINE_VAR and MIX_RECIPE_VAR, JSON), if any.

    Absolute paths, so the views dbt writes into svit.duckdb find the Parquet from any directory;
    SVIT_TABLES names the snapshot itself, so the views never read a later one. The recipe is
    in environment variables rather than dbt vars: a changed var makes dbt parse the whole
    project again, a changed environment variable only the files that read it while dbt parses.
    Those read the outline alone (the mix's name and the models it reads), so a recipe changed
    in anything else (seed, take, filter, ...) is not parsed again at all
    (macros/recipes/mix_sources.sql). Set only for `svit mix`, whatever the caller's environment
    holds, so that no other build enables those models.
    """
    env = {
        **os.environ,
        WAREHOUSE_VAR: str(warehouse_root),
        "SVIT_TABLES": str(tables),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop(MIX_OUTLINE_VAR, None)
    env.pop(MIX_RECIPE_VAR, None)
    if mix_recipe is not None:
        env.update(mix_recipe)
    return env
