"""One warehouse of the bundled sample per session (ingested, dbt-built) and its default report."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from svit.stats import StatsReport, run_stats


@pytest.fixture(scope="session")
def sample_warehouse(built_sample) -> Warehouse:
    return built_sample


@pytest.fixture(scope="session")
def default_report(sample_warehouse, tmp_path_factory) -> StatsReport:
    return run_stats(sample_warehouse, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="session")
def ground_truth() -> dict:
    return json.loads((BUNDLED_SAMPLE / "GROUND_TRUTH.json").read_text())


def task_items(task: str) -> list[dict]:
    """data/<task>.json of the bundled sample, read from its zip."""
    with zipfile.ZipFile(BUNDLED_SAMPLE / "data" / f"{task}.zip") as zf:
        return json.loads(zf.read(f"{task}.json"))


def llava_records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))
