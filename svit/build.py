"""`svit build`: `dbt build` of the project's models on a warehouse, with each model's time."""

from __future__ import annotations

from svit.core.dbt import NodeTiming, run_dbt
from svit.core.warehouse import Warehouse


def build_models(warehouse: Warehouse, extra: tuple[str, ...] = (), quiet: bool = False) -> list[NodeTiming]:
    """dbt build (extra arguments go to dbt): each model's and test's time, in run order."""
    return run_dbt(warehouse, "build", extra, quiet=quiet)
