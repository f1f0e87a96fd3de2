"""Commands that span stages, for the CLI and the demo (the only modules that import stages)."""

from __future__ import annotations

from svit.core import snapshots
from svit.core.dbt import NodeTiming, built_models, run_dbt
from svit.core.warehouse import Warehouse
from svit.mix import MixResult, write_published_manifests
from svit.mix.record_cache import forget_record_caches

# `svit build`'s dbt output, under <warehouse>/dbt/logs/ (svit.core.dbt.log_file).
BUILD_LOG = "build.log"


def build_with_manifests(
    warehouse: Warehouse,
    extra: tuple[str, ...] = (),
    quiet: bool = False,
    verbose: bool = False,
) -> tuple[list[NodeTiming], list[MixResult]]:
    """`svit build`: dbt build, then a manifest for each published mix it built, as `svit mix
    <published>` writes it; one write lock over both, the manifests going into svit.duckdb.

    dbt's output goes to dbt/logs/build.log; on standard error a progress line, or with
    `verbose` dbt's output itself, or with `quiet` nothing (svit.core.dbt.run_dbt)."""
    with snapshots.write_lock(warehouse.root, "build"):
        forget_record_caches(warehouse)
        timings = run_dbt(warehouse, "build", extra, quiet=quiet, verbose=verbose, log_name=BUILD_LOG)
        return timings, write_published_manifests(warehouse, built_models(timings))
