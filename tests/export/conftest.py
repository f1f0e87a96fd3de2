"""A small warehouse for the export tests, holding a LLaVA file of awkward values."""

from __future__ import annotations

from pathlib import Path

import pytest

from svit.core.warehouse import Warehouse
from tests.helpers import tricky_records, warehouse_of


@pytest.fixture(scope="session")
def tricky(tmp_path_factory) -> tuple[Warehouse, Path]:
    """A warehouse holding only `Tricky-Values.json` (model `tricky_values`)."""
    return warehouse_of(tmp_path_factory, "Tricky-Values.json", tricky_records())
