"""Choosing the LLaVA models to profile: dbt models in LLaVA shape and ingested LLaVA files, by name."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from svit.core.errors import SvitError

DEFAULT_MODEL = "llava_svit_all"


@dataclass
class ModelChoice:
    """The models to profile: dbt models in LLaVA shape and ingested LLaVA files, by name."""

    dbt_models: list[str]
    llava_files: list[str]

    @property
    def names(self) -> list[str]:
        return self.dbt_models + self.llava_files


def model_name(file_name: str) -> str:
    """An ingested file's model name: its stem, lower-cased, other characters as `_` (docs/warehouse.md)."""
    stem = file_name.rsplit("/", 1)[-1]
    stem = stem[: -len(".json")] if stem.lower().endswith(".json") else stem.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9_]", "_", stem.lower())


def available_models(session) -> tuple[list[str], list[str]]:
    """(dbt models with `image` and `conversations` columns, ingested LLaVA files incl. empty ones)."""
    con = session.con
    shaped = []
    if session.models:
        rows = con.execute(
            "select table_name from duckdb_columns() where database_name = 'svit' "
            "group by table_name having count(*) filter (where column_name in ('image', 'conversations')) = 2 "
            "order by table_name"
        ).fetchall()
        shaped = [r[0] for r in rows]
    files: set[str] = set()
    if "llava_records" in session.tables:
        # An ingest without LLaVA files leaves an empty Parquet file without the `source` partition.
        columns = {r[0] for r in con.execute("select column_name from (describe llava_records)").fetchall()}
        if "source" in columns:
            files |= {
                r[0]
                for r in con.execute("select distinct source from llava_records where source is not null").fetchall()
            }
    if "manifest" in session.tables:
        files |= {model_name(r[0]) for r in con.execute("select name from manifest where kind = 'llava'").fetchall()}
    return shaped, sorted(files)


def choose_models(session, requested: Sequence[str]) -> ModelChoice:
    """Split the requested names into dbt models and ingested files; default: llava_svit_all and every file."""
    shaped, files = available_models(session)
    if not requested:
        return ModelChoice([DEFAULT_MODEL] if DEFAULT_MODEL in shaped else [], files)
    dbt_models, llava_files = [], []
    for name in dict.fromkeys(requested):
        if name in shaped:
            dbt_models.append(name)
        elif name in files:
            llava_files.append(name)
        else:
            known = ", ".join(shaped + files) or "none (run `svit build`, or ingest a LLaVA file)"
            raise SvitError(f"unknown model {name!r}; models to profile: {known}")
    return ModelChoice(dbt_models, llava_files)
