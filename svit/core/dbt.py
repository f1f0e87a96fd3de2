"""Running dbt on a warehouse: the one way `svit build` and `svit mix` call it."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svit.core import models_db, settings, snapshots
from svit.core.errors import SvitError
from svit.core.tables import TABLES
from svit.core.warehouse import Warehouse

if TYPE_CHECKING:
    import duckdb

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


# The log of a dbt run, under <warehouse>/dbt/logs/ (`svit build` names its own).
DEFAULT_LOG = "dbt-run.log"

# dbt arguments that build part of the project: such a build may not move the models to a new snapshot.
SELECTING = ("-s", "--select", "--models", "-m", "--exclude", "--selector", "--resource-type", "--resource-types")
# dbt arguments that leave kinds of node out (not a partial build: the models are all built).
EXCLUDING_TYPES = ("--exclude-resource-type", "--exclude-resource-types")


# The interpreter that runs dbt: it imports dbt, then waits for the job (its environment and
# arguments, one JSON line on standard input), so that dbt's slow import can start before the
# caller knows the job (`started_dbt`). Without a job (end of input) it stops. When dbt is
# done it runs the exit handlers (dbt-duckdb's closes its DuckDB database) and leaves without
# the interpreter's teardown of dbt's modules, which every run paid for (what each saves:
# bench/README.md, "One mix after a recipe change: dbt's parse and dbt's interpreter").
_DBT_LAUNCHER = """
import atexit, json, os, sys
from dbt.cli.main import cli
job = sys.stdin.readline()
if not job:
    sys.exit(0)
job = json.loads(job)
os.environ.clear()
os.environ.update(job["env"])
try:
    cli.main(args=job["args"], prog_name="dbt")
except SystemExit as stop:
    code = stop.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
"""


class DbtProcess:
    """A dbt interpreter started ahead of its job (`started_dbt`), which `run_dbt` then gives it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _DBT_LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.used = False

    def run(self, env: dict[str, str], args: list[str]) -> subprocess.Popen:
        """Give the process its job; its output (dbt's) then comes on `proc.stdout`."""
        if self.used:
            raise RuntimeError("a started dbt process runs one job")
        self.used = True
        self.proc.stdin.write(json.dumps({"env": env, "args": args}) + "\n")
        self.proc.stdin.close()
        return self.proc

    def discard(self) -> None:
        """Stop the process if no job came (the caller stopped first, e.g. on a recipe error)."""
        if not self.used:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()


@contextlib.contextmanager
def started_dbt(process: DbtProcess | None = None) -> Iterator[DbtProcess]:
    """A dbt interpreter importing dbt while the caller prepares the job (`svit mix` loads its
    code and checks the recipe meanwhile), for one `run_dbt(..., process=...)` inside the
    block; `process`, one started earlier, is used instead. Stopped at the end if not used."""
    process = process or DbtProcess()
    try:
        yield process
    finally:
        process.discard()


def log_file(warehouse: Warehouse, log_name: str = DEFAULT_LOG) -> Path:
    """Where a dbt run's output goes, as dbt would print it (its own debug log is dbt.log beside it)."""
    return warehouse.root / "dbt" / "logs" / log_name


def run_dbt(
    warehouse: Warehouse,
    command: str,
    extra: tuple[str, ...] = (),
    quiet: bool = False,
    verbose: bool = False,
    log_name: str = DEFAULT_LOG,
    mix_recipe: dict[str, str] | None = None,
    process: DbtProcess | None = None,
) -> list[NodeTiming]:
    """Run a dbt command on `warehouse` and return each node's time; raise SvitError naming what failed.
    `mix_recipe`: the recipe the mix_user models build, from `svit mix` (`Recipe.dbt_environment`).
    `process`: a dbt interpreter started earlier (`started_dbt`), else one is started here.

    A build holds the warehouse's write lock (no ingest meanwhile), reads one snapshot, the
    current one, through paths fixed in the views it writes, and records that snapshot once it
    succeeded, so every reader can tell whether the models are fresh.

    dbt's output always goes to `log_file(warehouse, log_name)`. On standard error: nothing when
    `quiet`; dbt's output as it comes with `verbose`; else one progress line (on a terminal),
    dbt's warnings, and on failure its error lines (the failing node and dbt's message).
    """
    root = warehouse.root
    if not (PROJECT_DIR / "dbt_project.yml").is_file():
        raise SvitError(f"the dbt project is not at {PROJECT_DIR}; run svit from a checkout of svit-warehouse")
    with snapshots.write_lock(root, command.split()[0]):
        current = snapshots.current_snapshot(root)
        if current is None:
            raise SvitError(f"{root} has no ingested tables; run `svit ingest SOURCE_DIR` (or `svit demo`) first")
        missing = [name for name in TABLES if not (current / name).is_dir()]
        if missing:  # every snapshot holds every table, empty or not: an older svit wrote this one
            raise SvitError(
                f"snapshot {current.name} was written by an older svit (no {', '.join(missing)} table): run "
                "`svit ingest` again with the same sources, which rereads them"
            )
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
            console = _Console(command, log_file(warehouse, log_name), quiet, verbose, _excluded_types(extra))
            timings = _run_dbt_process(warehouse, command, extra, console, current, mix_recipe, process)
        if building:
            models_db.drop_retired_relations(warehouse)
            built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            snapshots.write_models_record(root, {"snapshot": current.name, "complete": True, "built_at": built_at})
            snapshots.remove_unused_snapshots(root)  # the snapshot the models read before, if no reader holds it
        return timings


def _run_dbt_process(
    warehouse: Warehouse,
    command: str,
    extra: tuple[str, ...],
    console: _Console,
    tables: Path,
    mix_recipe: dict[str, str] | None = None,
    process: DbtProcess | None = None,
) -> list[NodeTiming]:
    """dbt in its own process: dbt-duckdb keeps its DuckDB connection open for the life of the
    process, which would lock svit.duckdb against everything that comes after.

    dbt prints its events as JSON lines (its debug log, dbt.log, stays as it was); `console`
    turns them into the log file, the progress line and the error lines."""
    env = settings.dbt_environment(warehouse.root, tables, mix_recipe)
    results_file = warehouse.root / "dbt" / "target" / "run_results.json"
    results_file.unlink(missing_ok=True)
    # Before the caller's arguments, which may set them otherwise (then lines are not JSON,
    # and are logged and shown as they are).
    events = ("--log-format", "json", "--log-format-file", "debug", "--no-use-colors")
    with console:
        proc = (process or DbtProcess()).run(env, dbt_args(warehouse, command, events + tuple(extra)))
        try:
            for line in proc.stdout:
                console.line(line.rstrip("\n"))
            proc.wait()
        except BaseException:  # Ctrl-C reaches dbt too: give it a moment to stop on its own
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    timings = []
    if results_file.is_file():
        for node in json.loads(results_file.read_text())["results"]:
            # unique_id: <kind>.<project>.<name>[.<hash>]
            kind, _project, name = node["unique_id"].split(".")[:3]
            timings.append(NodeTiming(name, kind, node["status"], float(node["execution_time"] or 0.0)))
    if proc.returncode != 0:
        failed = [t.name for t in timings if t.status not in ("success", "pass", "skipped", "warn")]
        console.show_errors()
        what = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise SvitError(
            f"dbt {command} failed ({what or console.first_error() or 'see its output'}); "
            f"dbt's output is in {console.path}"
        )
    return timings


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _excluded_types(extra: tuple[str, ...]) -> tuple[str, ...]:
    """The resource types `--exclude-resource-type X` (or `=X`) in dbt's arguments leave out."""
    types: list[str] = []
    for i, arg in enumerate(extra):
        name, _, value = arg.partition("=")
        if name in EXCLUDING_TYPES:
            types.append(value if value else (extra[i + 1] if i + 1 < len(extra) else ""))
    return tuple(types)


# What the progress line counts, by dbt's resource type.
KINDS = {"model": "models", "test": "tests", "unit_test": "tests", "seed": "seeds", "snapshot": "snapshots"}


class _Console:
    """What a dbt run shows, from dbt's JSON events (one per line; any other line is taken as it is).

    Every event's message goes to the log file, as dbt would print it. Verbose: the same on
    standard error as it comes. Otherwise a progress line on standard error (a tqdm bar, shown
    only on a terminal: `models 12/18, tests 40/68`), dbt's warnings, and at the end, on
    failure, dbt's error lines. Quiet: only the log file.
    """

    def __init__(self, command: str, path: Path, quiet: bool, verbose: bool, excluded: tuple[str, ...] = ()) -> None:
        self.command = command
        self.excluded = excluded  # resource types the run leaves out: not in the project's totals
        self.path = path
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.errors: list[str] = []  # error-level messages, to show on failure
        self.tail: list[str] = []  # the last lines that were not events (a crash's traceback)
        self.done: dict[str, str] = {}  # unique_id -> kind counted, of the nodes finished
        self.failed = 0
        self.totals: dict[str, int] = {}  # per kind, when the whole project is built
        self.total: int | None = None
        self.bar = None
        self.log = None

    def __enter__(self) -> _Console:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
        if not (self.quiet or self.verbose):
            from tqdm import tqdm

            self.bar = tqdm(
                desc=f"dbt {self.command}",
                unit=" nodes",
                dynamic_ncols=True,
                leave=False,
                disable=None,  # on a terminal only
                file=sys.stderr,
                bar_format="{desc}: {n_fmt} nodes [{elapsed}{postfix}]",
                postfix="parsing the project",
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.refresh()  # the last counts drawn once, however fast the last nodes ran
            self.bar.close()
        self.log.close()

    def line(self, raw: str) -> None:
        try:
            event = json.loads(raw) if raw.startswith("{") else None
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("info"), dict):
            self._print(raw)
            self.tail = [*self.tail[-19:], raw]
            return
        info, data = event["info"], event.get("data") or {}
        message = ANSI.sub("", str(info.get("msg", "")))
        self._print(f"{_clock(info.get('ts'))}  {message}" if info.get("ts") else message)
        level = info.get("level")
        if level == "error":
            self.errors.append(message)
        elif level == "warn" and not (self.quiet or self.verbose):
            self._echo(f"dbt: warning: {message.strip()}")
        if self.bar is not None:
            self._progress(info, data)

    def show_errors(self) -> None:
        """On failure (without verbose, which showed them already): dbt's error lines, or the
        last lines of a dbt that stopped before it could say why."""
        if self.quiet or self.verbose:
            return
        for message in self.errors or self.tail:
            for text in message.splitlines():
                if text.strip():
                    self._echo(f"  {text}")

    def first_error(self) -> str:
        """The first line of dbt's first error that says what went wrong (for a failure before
        any node ran, such as a compilation error)."""
        for message in self.errors:
            for text in message.splitlines():
                text = text.strip()
                if text and not text.endswith(":"):  # not "Encountered an error:"
                    return text
        return ""

    def _print(self, text: str) -> None:
        self.log.write(text + "\n")
        if self.verbose:
            self._echo(text)

    def _echo(self, text: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        print(text, file=sys.stderr, flush=True)
        if self.bar is not None:
            self.bar.refresh()

    def _progress(self, info: dict, data: dict) -> None:
        node = data.get("node_info") or {}
        if info.get("name") == "FoundStats":
            self._project_totals(str(data.get("stat_line", "")))
        if self.total is None and isinstance(data.get("total"), int):
            self.total = data["total"]
            if sum(self.totals.values()) != self.total:
                self.totals = {}
            self.bar.total = self.total
            self.bar.bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} nodes [{elapsed}{postfix}]"
        # A node's last event: its result, or that it was skipped (not its start, not the
        # summary of failures at the end, which carries no index).
        uid = node.get("unique_id")
        if uid and "index" in data and info.get("name") != "LogStartLine" and uid not in self.done:
            self.done[uid] = KINDS.get(node.get("resource_type", ""), "other")
            self.failed += node.get("node_status") in ("error", "fail", "runtime error")
            # The counts first: update() draws only now and then, and what it draws must be current.
            self.bar.set_postfix_str(self._counts(), refresh=False)
            self.bar.update()
        elif self.total is not None:
            self.bar.set_postfix_str(self._counts(), refresh=False)

    def _counts(self) -> str:
        counted: dict[str, int] = {}
        for kind in self.done.values():
            counted[kind] = counted.get(kind, 0) + 1
        shown = {**dict.fromkeys(self.totals, 0), **counted}
        parts = [
            f"{kind} {shown[kind]}/{self.totals[kind]}" if kind in self.totals else f"{kind} {shown[kind]}"
            for kind in dict.fromkeys(KINDS.values())  # models, tests, seeds, snapshots
            if kind in shown
        ]
        return ", ".join(parts + ([f"{self.failed} failed"] if self.failed else []))

    def _project_totals(self, stat_line: str) -> None:
        """Models, tests, seeds, from dbt's `Found 18 models, ..., 60 data tests, ..., 8 unit tests`:
        the whole project, so only kept when they add up to the nodes the run has (else it is
        a selection, or some nodes do not run, and the counts show without totals)."""
        totals: dict[str, int] = {}
        for n, kind in re.findall(r"(\d+) (model|seed|snapshot|data test|unit test)s?\b", stat_line):
            resource_type = kind.replace("data test", "test").replace(" ", "_")
            if resource_type not in self.excluded:
                totals[KINDS[resource_type]] = totals.get(KINDS[resource_type], 0) + int(n)
        self.totals = totals


def _clock(ts: str) -> str:
    """dbt's timestamp (UTC) as dbt's text log shows it: local time of day."""
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return ts


def load_dbt_plugins(con: duckdb.DuckDBPyConnection) -> bool:
    """Register the functions of the dbt-duckdb plugins named in the project's profiles.yml."""
    # Imported here: importing dbt's plugin base is slow, and most commands never need it.
    import importlib

    import yaml

    try:
        profiles = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    plugins = {
        plugin["module"]: plugin.get("config") or {}
        for profile in profiles.values()
        if isinstance(profile, dict)
        for output in (profile.get("outputs") or {}).values()
        for plugin in (output.get("plugins") or [])
        if isinstance(plugin, dict) and plugin.get("module")
    }
    loaded = False
    for module, config in plugins.items():
        try:
            importlib.import_module(module).Plugin(module, config).configure_connection(con)
        except Exception:  # not importable here, or not a plugin we can run outside dbt
            continue
        loaded = True
    return loaded
