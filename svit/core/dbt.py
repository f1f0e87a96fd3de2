"""Running dbt on a warehouse: the one way `svit build` and `svit mix` call it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from svit.core import settings, snapshots
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse

# The dbt project (dbt_project.yml, models/, macros/, analyses/) is the repository's root.
PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class NodeTiming:
    name: str
    kind: str  # model, seed, test, unit_test
    status: str
    seconds: float


def built_models(timings: list[NodeTiming]) -> list[str]:
    """The models a build wrote."""
    return [t.name for t in timings if t.kind == "model" and t.status == "success"]


def dbt_args(warehouse: Warehouse, command: str, extra: tuple[str, ...] = ()) -> list[str]:
    """dbt's command line for this project on `warehouse`; targets and logs stay inside it."""
    return [
        *command.split(),  # e.g. "build", or "docs generate"
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(warehouse.root / "dbt" / "target"),
        "--log-path",
        str(warehouse.root / "dbt" / "logs"),
        *extra,
    ]


# dbt arguments that build part of the project: such a build may not move the models to a new snapshot.
SELECTING = ("-s", "--select", "--models", "-m", "--exclude", "--selector", "--resource-type", "--resource-types")


def run_dbt(warehouse: Warehouse, command: str, extra: tuple[str, ...] = (), quiet: bool = False) -> list[NodeTiming]:
    """Run a dbt command on `warehouse` and return each node's time; raise SvitError naming what failed.

    A build holds the warehouse's write lock (no ingest meanwhile), reads one snapshot, the
    current one, through paths fixed in the views it writes, and records that snapshot once it
    succeeded, so every reader can tell whether the models are fresh.
    """
    root = warehouse.root
    if not (PROJECT_DIR / "dbt_project.yml").is_file():
        raise SvitError(f"the dbt project is not at {PROJECT_DIR}; run svit from a checkout of svit-warehouse")
    with snapshots.write_lock(root, command.split()[0]):
        current = snapshots.current_snapshot(root)
        if current is None:
            raise SvitError(f"{root} has no ingested tables; run `svit ingest SOURCE_DIR` (or `svit demo`) first")
        building = command == "build"
        partial = any(a.split("=")[0] in SELECTING for a in extra)
        record = snapshots.models_record(root) or {}
        fresh = record.get("snapshot") == current.name and record.get("complete", True)
        if building and partial and not fresh and warehouse.duckdb_path.exists():
            raise SvitError(
                f"the models were built from snapshot {record.get('snapshot') or '(unknown)'}, the warehouse is at "
                f"{current.name}: a partial build would mix the two; run `svit build` without a selection first"
            )
        if building and not fresh:
            # Until dbt succeeds some views may read the new snapshot and some tables the old
            # one: the record says so, and both snapshots are kept while it does.
            previous = record.get("previous") if record.get("snapshot") == current.name else record.get("snapshot")
            snapshots.write_models_record(root, {"snapshot": current.name, "complete": False, "previous": previous})
        with snapshots.holding(root, current):
            timings = _run_dbt_process(warehouse, command, extra, quiet, current)
        if building:
            built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            snapshots.write_models_record(root, {"snapshot": current.name, "complete": True, "built_at": built_at})
            snapshots.remove_unused_snapshots(root)  # the snapshot the models read before, if no reader holds it
        return timings


def _run_dbt_process(
    warehouse: Warehouse,
    command: str,
    extra: tuple[str, ...],
    quiet: bool,
    tables: Path,
) -> list[NodeTiming]:
    """dbt in its own process: dbt-duckdb keeps its DuckDB connection open for the life of the
    process, which would lock svit.duckdb against everything that comes after."""
    env = settings.dbt_environment(warehouse.root, tables)
    dbt = Path(sys.executable).with_name("dbt")
    argv = [str(dbt)] if dbt.exists() else [sys.executable, "-c", "from dbt.cli.main import cli; cli()"]
    results_file = warehouse.root / "dbt" / "target" / "run_results.json"
    results_file.unlink(missing_ok=True)
    proc = subprocess.run(
        argv + dbt_args(warehouse, command, extra),
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    timings = []
    if results_file.is_file():
        for node in json.loads(results_file.read_text())["results"]:
            # unique_id: <kind>.<project>.<name>[.<hash>]
            kind, _project, name = node["unique_id"].split(".")[:3]
            timings.append(NodeTiming(name, kind, node["status"], float(node["execution_time"] or 0.0)))
    if proc.returncode != 0:
        failed = [t.name for t in timings if t.status not in ("success", "pass", "skipped")]
        raise SvitError(
            f"dbt {command} failed ({', '.join(failed[:5]) or 'see the log'}); "
            f"details in {warehouse.root / 'dbt' / 'logs' / 'dbt.log'}"
        )
    return timings
