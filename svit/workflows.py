"""Commands that span stages, for the CLI and the demo (the only modules that import stages)."""

from __future__ import annotations

from svit.core import snapshots, word_counts
from svit.core.dbt import EXCLUDING_TYPES, DbtProcess, NodeTiming, built_models, run_dbt
from svit.core.warehouse import Warehouse
from svit.mix import MixResult, write_published_manifests
from svit.mix.record_cache import forget_record_caches

# `svit build`'s dbt output, under <warehouse>/dbt/logs/ (svit.core.dbt.log_file).
BUILD_LOG = "build.log"

# dbt arguments by which the caller chooses the kinds of node a build runs itself, and the
# selectors that ask for unit tests by name.
_RESOURCE_TYPE_ARGS = ("--resource-type", "--resource-types", *EXCLUDING_TYPES)
_UNIT_TEST_SELECTORS = ("test_type:unit", "resource_type:unit_test")


def build_with_manifests(
    warehouse: Warehouse,
    extra: tuple[str, ...] = (),
    quiet: bool = False,
    verbose: bool = False,
    unit_tests: bool = False,
    process: DbtProcess | None = None,
) -> tuple[list[NodeTiming], list[MixResult]]:
    """`svit build`: dbt build, then a manifest for each published mix it built, as `svit mix
    <published>` writes it; one write lock over both, the manifests going into svit.duckdb.

    dbt's unit tests run only with `unit_tests` (or when `extra` chooses the kinds of node
    itself, or selects unit tests): they check the models' SQL on fixed rows, not the
    warehouse's data, so the test suite runs them and a build of the data need not (dbt's own
    advice; docs/models.md).

    dbt's output goes to dbt/logs/build.log; on standard error a progress line, or with
    `verbose` dbt's output itself, or with `quiet` nothing (svit.core.dbt.run_dbt).
    `process`: a dbt interpreter started earlier (svit.core.dbt.started_dbt)."""
    extra = build_args(extra, unit_tests)
    with snapshots.write_lock(warehouse.root, "build"):
        forget_record_caches(warehouse)
        word_counts.load_in_background()  # for the manifests, while dbt runs
        timings = run_dbt(warehouse, "build", extra, quiet=quiet, verbose=verbose, log_name=BUILD_LOG, process=process)
        return timings, write_published_manifests(warehouse, built_models(timings))


def build_args(extra: tuple[str, ...], unit_tests: bool) -> tuple[str, ...]:
    """dbt's arguments for `svit build`: the caller's, and the unit tests left out unless
    asked for or the caller chooses the resource types (or selects unit tests) itself."""
    chosen = any(
        arg.split("=")[0] in _RESOURCE_TYPE_ARGS or any(s in arg for s in _UNIT_TEST_SELECTORS) for arg in extra
    )
    return extra if unit_tests or chosen else (*extra, "--exclude-resource-type", "unit_test")
