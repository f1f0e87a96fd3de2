"""Commands that span stages, for the CLI and the demo (the only modules that import stages)."""

from __future__ import annotations

from svit.build import build_models
from svit.core import snapshots
from svit.core.dbt import NodeTiming, built_models
from svit.core.warehouse import Warehouse
from svit.mix import MixResult, write_published_manifests


def build_with_manifests(
    warehouse: Warehouse,
    extra: tuple[str, ...] = (),
    quiet: bool = False,
) -> tuple[list[NodeTiming], list[MixResult]]:
    """`svit build`: dbt build, then a manifest for each published mix it built, as `svit mix
    <published>` writes it; one write lock over both, the manifests going into svit.duckdb."""
    with snapshots.write_lock(warehouse.root, "build"):
        timings = build_models(warehouse, extra, quiet=quiet)
        return timings, write_published_manifests(warehouse, built_models(timings))
