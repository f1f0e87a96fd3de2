"""`svit build`: `dbt build` of the project's models on a warehouse, with each model's time,
then the manifests of the published mixes it built."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest import snapshot
from svit.errors import SvitError
from svit.mix_manifest import MixResult, write_published_manifests
from svit.warehouse import Warehouse

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass
class NodeTiming:
    name: str
    kind: str  # model, seed, test, unit_test
    status: str
    seconds: float


@dataclass
class BuildResult:
    timings: list[NodeTiming]
    manifests: list[MixResult]  # of the published mixes built (those whose LLaVA files are ingested)


def build_models(warehouse: Warehouse, extra: tuple[str, ...] = (), quiet: bool = False) -> BuildResult:
    """`svit build`: dbt build (extra arguments go to dbt), then a manifest for each published
    mix it built, as `svit mix <published>` writes it (which builds through here)."""
    timings = run_dbt(warehouse, "build", extra, quiet=quiet)
    built = [t.name for t in timings if t.kind == "model" and t.status == "success"]
    return BuildResult(timings, write_published_manifests(warehouse, built))


def dbt_args(warehouse: Warehouse, command: str, extra: tuple[str, ...] = ()) -> list[str]:
    """dbt's command line for this project on `warehouse`; targets and logs stay inside it."""
    return [
        *command.split(),  # e.g. "build", or "docs generate"
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(warehouse.root / "dbt" / "target"),
        "--log-path", str(warehouse.root / "dbt" / "logs"),
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
    with snapshot.write_lock(root, command.split()[0]):
        current = snapshot.current_snapshot(root)
        if current is None:
            raise SvitError(f"{root} has no ingested tables; run `svit ingest SOURCE_DIR` (or `svit demo`) first")
        building = command == "build"
        partial = any(a.split("=")[0] in SELECTING for a in extra)
        built_from = snapshot.models_snapshot(root)
        if building and partial and built_from != current.name and warehouse.duckdb_path.exists():
            raise SvitError(
                f"the models were built from snapshot {built_from or '(unknown)'}, the warehouse is at {current.name}: "
                "a partial build would mix the two; run `svit build` without a selection first"
            )
        with snapshot.holding(root, current):
            timings = _run_dbt_process(warehouse, command, extra, quiet, current)
        if building:
            snapshot.write_models_record(root, {
                "snapshot": current.name,
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            })
            snapshot.remove_unused_snapshots(root)  # the snapshot the models read before, if no reader holds it
        return timings


def _run_dbt_process(
    warehouse: Warehouse, command: str, extra: tuple[str, ...], quiet: bool, tables: Path,
) -> list[NodeTiming]:
    """dbt in its own process: dbt-duckdb keeps its DuckDB connection open for the life of the
    process, which would lock svit.duckdb against everything that comes after."""
    # Absolute paths, so the views dbt writes into svit.duckdb find the Parquet from any
    # directory; SVIT_TABLES names the snapshot itself, so the views never read a later one.
    env = {
        **os.environ,
        "SVIT_WAREHOUSE": str(warehouse.root),
        "SVIT_TABLES": str(tables),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
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
