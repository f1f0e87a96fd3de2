"""`svit build`: `dbt build` of the project's models on a warehouse, with each model's time,
then the manifests of the published mixes it built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def run_dbt(warehouse: Warehouse, command: str, extra: tuple[str, ...] = (), quiet: bool = False) -> list[NodeTiming]:
    """Run a dbt command on `warehouse` and return each node's time; raise SvitError naming what failed.

    dbt runs in its own process: dbt-duckdb keeps its DuckDB connection open for the life of
    the process, which would lock svit.duckdb against everything that comes after.
    """
    if not (PROJECT_DIR / "dbt_project.yml").is_file():
        raise SvitError(f"the dbt project is not at {PROJECT_DIR}; run svit from a checkout of svit-warehouse")
    if not (warehouse.root / "current").exists():
        raise SvitError(f"{warehouse.root} has no ingested tables; run `svit ingest SOURCE_DIR` (or `svit demo`) first")
    # Absolute, so the views dbt writes into svit.duckdb find the Parquet from any directory.
    env = {**os.environ, "SVIT_WAREHOUSE": str(warehouse.root), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
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
