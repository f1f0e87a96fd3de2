"""The bundled sample, ingested with its LLaVA files and built with dbt once per session.

Shared by the dbt, export, mix, sql and stats tests (each build takes seconds); tests that
change a warehouse make their own.
"""

from __future__ import annotations

import shutil

import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from svit.workflows import build_with_manifests


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("built_sample"))
    run_ingest(BUNDLED_SAMPLE, tuple(sorted((BUNDLED_SAMPLE / "llava").glob("*.json"))), warehouse, progress=False)
    # As `svit build` (the published mixes get manifests), with dbt's unit tests: the suite
    # is where they run.
    timings, _ = build_with_manifests(warehouse, quiet=True, unit_tests=True)
    assert sum(t.kind == "unit_test" for t in timings) >= 10, [t.name for t in timings]
    return warehouse


@pytest.fixture(scope="module")
def guarded(built_sample, tmp_path_factory) -> Warehouse:
    """A copy of the built sample, its symlinks kept, for each module that asks: refusals to write
    inside a warehouse are tried on it, so a guard that let one through would damage the copy,
    not the warehouse the other tests share."""
    root = tmp_path_factory.mktemp("guarded") / "warehouse"
    shutil.copytree(built_sample.root, root, symlinks=True)
    return Warehouse(root.resolve())
