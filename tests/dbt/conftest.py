"""A warehouse of the bundled sample, ingested and built with dbt once per session."""

from __future__ import annotations

import json
import zipfile

import pytest

from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from tests.conftest import query as models  # noqa: F401  (the dbt tests import it from here)


@pytest.fixture(scope="session")
def built(built_sample) -> Warehouse:
    return built_sample


def source_items(task: str) -> list[dict]:
    """data/<task>.json of the bundled sample, read from its zip."""
    with zipfile.ZipFile(BUNDLED_SAMPLE / "data" / f"{task}.zip") as zf:
        return json.loads(zf.read(f"{task}.json"))


def image_sizes() -> dict[int, dict]:
    rows = json.loads((BUNDLED_SAMPLE / "raw" / "annotations" / "vg" / "image_data.json").read_text())
    return {r["image_id"]: r for r in rows}
