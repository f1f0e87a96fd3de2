"""The bundled sample, ingested with its LLaVA files and built with dbt once per session.

Shared by the dbt, export, mix and stats tests (each build takes seconds); tests that
change a warehouse make their own.
"""

from __future__ import annotations

import duckdb
import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from svit.workflows import build_with_manifests


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("built_sample"))
    run_ingest(BUNDLED_SAMPLE, tuple(sorted((BUNDLED_SAMPLE / "llava").glob("*.json"))), warehouse, progress=False)
    build_with_manifests(warehouse, quiet=True)  # as `svit build`: the published mixes get manifests
    return warehouse


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    """Rows of `sql` over the built models (svit.duckdb, read-only)."""
    con = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
