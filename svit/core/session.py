"""The read session over the warehouse: an in-memory DuckDB that sees the warehouse tables and
the dbt models, and nothing else. `svit sql`, `svit stats` and `svit verify` read through it.

One in-memory DuckDB per session:

- every warehouse table is a view by its bare name over
  `read_parquet('<snapshot>/<table>/**/*.parquet', hive_partitioning = true)`, so the
  partition columns (task, source, split) are ordinary VARCHAR columns. The views point
  at the snapshot `current` named when the session opened, so one query never mixes two
  ingest runs;
- `<warehouse>/svit.duckdb`, when it exists, is attached READ_ONLY as `svit`
  (svit.core.models_db) and its schemas are put on the search path: models are found by
  bare name, and a model is only bound when a query names it;
- relative file paths inside the models (dbt-duckdb `external` models are views over
  Parquet files, written relative to where dbt ran) are looked up in the warehouse and
  the warehouse's parent, and first in the current directory when that is inside the
  warehouse (DuckDB's `file_search_path`).

A session is also contained: it reads the warehouse and nothing else. A SELECT can still
name any file or URL (`read_text('/etc/passwd')`, `glob('/etc/*')`,
`read_csv('https://...')`), and DuckDB would fetch and load extensions to serve some of
them, so the connection is set up in this order:

1. `autoinstall_known_extensions = false`, `autoload_known_extensions = false`, in the
   connect config, before anything runs: a query naming `sqlite_scan` or an `s3://` URL
   must not download or load code. The extensions built into DuckDB (parquet, json, icu)
   are there regardless.
2. the table views are created and svit.duckdb attached. DuckDB 2.0.1 allows both after
   step 4 as well (the paths are inside the allowed directories), but the models' view
   definitions are needed for step 3, which must come before step 4; an attached
   database's views bind lazily, so nothing is read from them yet.
3. `allowed_directories` = the warehouse root (resolved: DuckDB resolves symlinks before it
   compares), the folders the table views read (a table folder may be a link to a
   snapshot elsewhere) and the session's temp directory, each with a trailing slash;
   `allowed_paths` = the exact paths that the models' relative paths name from the
   current directory, when nothing is there (see below). Both must be set before the
   next step: DuckDB refuses to change them once external access is off.
4. `enable_external_access = false`: files outside the allowed directories, every URL
   (checked before any connection is made), INSTALL and LOAD all fail with a Permission
   Error. Globs, hive partitions and the attached models' own `read_parquet` calls keep
   working inside the allowed directories. DuckDB resolves links before it compares and
   checks each file a glob finds, so a link inside the warehouse that points out of it
   is refused.
5. `lock_configuration = true`: no statement can undo 1-4 (DuckDB has no SELECT-able
   setter such as `set_config`, and `query()` takes only a SELECT).

Relative paths inside the models: DuckDB checks a relative path as joined to the current
directory, but reads it from the first `file_search_path` folder that has it. So the
current directory is on the search path only when it is inside the warehouse, and for a
model's relative path whose current-directory form names nothing, that exact
(non-existent) path is allowed: the check passes, the file actually read is found through
the search path and checked again. A relative path that does exist outside the warehouse
from the current directory stays refused.

The session's temp directory (where DuckDB spills) is `<tmp>/svit-sql-<pid>-<random>`,
outside the warehouse so that a read-only command writes nothing there; a run that was
killed leaves its directory behind, and the next session removes those whose process is
gone (svit.core.leftovers).

Which statements may run on the session, and how DuckDB's refusals are explained, is
`svit sql`'s part (svit/sql/guard.py); docs/warehouse.md tells users what is contained.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svit.core import models_db
from svit.core.errors import SvitError
from svit.core.leftovers import remove_dead
from svit.core.models_db import MODELS_CATALOG
from svit.core.snapshots import current_snapshot
from svit.core.sql import sql_ident, sql_str
from svit.core.tables import TABLES
from svit.core.warehouse import Warehouse

TEMP_PREFIX = "svit-sql-"
_TEMP_NAME = re.compile(rf"^{TEMP_PREFIX}(?P<pid>\d+)-\w+$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_GLOB_CHARS = re.compile(r"[*?\[{]")


@dataclass
class Session:
    """An in-memory DuckDB with the warehouse tables and (optionally) the dbt models."""

    con: duckdb.DuckDBPyConnection
    tables: list[str]
    models: list[str]
    models_note: str  # why there are no models, when there are none
    temp_dir: Path
    root: Path  # the warehouse, as given (for messages)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def open_session(warehouse: Warehouse, models: bool = True, memory_limit: str | None = None) -> Session:
    """Connect, create the table views, attach svit.duckdb read-only; SvitError if unusable.
    `memory_limit`: DuckDB's, where the command has one (else DuckDB's default)."""
    root = warehouse.root
    snapshot = current_snapshot(root)
    present = [t for t in TABLES if (root / t).is_dir()]
    if not present:
        raise SvitError(
            f"no warehouse tables in {root}: run `svit ingest SOURCE_DIR --warehouse {root}` "
            f"(or `svit demo --warehouse {root}`) first"
        )
    temp_base = Path(tempfile.gettempdir())
    remove_dead(temp_base, _TEMP_NAME)
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=temp_base))
    # Extensions off before anything runs (module docstring, step 1).
    con = duckdb.connect(
        config={
            "temp_directory": str(temp_dir),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            **({"memory_limit": memory_limit} if memory_limit else {}),
        }
    )
    try:
        session = Session(con, present, [], "", temp_dir, root)
        con.execute(f"set file_search_path = {sql_str(','.join(_search_dirs(root)))}")
        allowed = [root.resolve(), temp_dir.resolve()]
        for table in present:
            in_snapshot = snapshot is not None and (snapshot / table).is_dir()
            folder = (snapshot / table) if in_snapshot else (root / table).resolve()
            _create_table_view(con, table, folder)
            allowed.append(folder.resolve())
        if models:
            _attach_models(session, warehouse)
        else:
            session.models_note = "models not attached (--no-models)"
        _contain(con, allowed, _relative_model_paths(con) if session.models else [])
        return session
    except BaseException:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def _search_dirs(root: Path) -> list[str]:
    """Where relative paths inside models are looked up: the warehouse, its parent, and first
    the current directory when it is inside the warehouse (elsewhere it could not be read:
    a file found there would hide the one in the warehouse)."""
    dirs = [str(root), str(root.parent)]
    try:
        cwd = Path.cwd()
        if cwd.resolve().is_relative_to(root.resolve()):
            dirs.insert(0, str(cwd))
    except OSError:  # the current directory was removed
        pass
    return list(dict.fromkeys(dirs))


def _create_table_view(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> None:
    columns, partition = TABLES[table]
    if not any(folder.rglob("*.parquet")):
        # An empty folder: an empty relation with the contract's columns.
        extra = f", {partition} varchar" if partition else ""
        con.execute(f"create table {table} ({columns}{extra})")
        return
    pattern = sql_str(f"{folder}/**/*.parquet")
    con.execute(
        f"create view {table} as select * from read_parquet({pattern}, hive_partitioning = true, "
        "hive_types_autocast = false, union_by_name = true)"
    )


def _attach_models(session: Session, warehouse: Warehouse) -> None:
    """Attach svit.duckdb, put its schemas on the search path and list its models; without a
    build, say so in `models_note`."""
    con = session.con
    path = warehouse.duckdb_path
    if not path.is_file():
        session.models_note = f"no dbt models yet ({path.name} not built: run `svit build`)"
        return
    models_db.attach(con, warehouse)
    schemas = [
        row[0]
        for row in con.execute(
            "select schema_name from duckdb_schemas() where database_name = ? "
            "and schema_name not in ('information_schema', 'pg_catalog') "
            "order by schema_name <> 'main', schema_name",
            [MODELS_CATALOG],
        ).fetchall()
    ]
    paths = ["memory.main"] + [f"{MODELS_CATALOG}.{sql_ident(s)}" for s in schemas]
    con.execute(f"set search_path = {sql_str(','.join(paths))}")
    session.models = sorted(
        {
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() where database_name = ? "
                "union select view_name from duckdb_views() where database_name = ? and not internal",
                [MODELS_CATALOG, MODELS_CATALOG],
            ).fetchall()
        }
    )
    if not session.models:
        session.models_note = f"{path.name} has no models yet"


def _contain(con: duckdb.DuckDBPyConnection, allowed_dirs: list[Path], relative_paths: list[str]) -> None:
    """Steps 3-5 of the module docstring: allow the warehouse, shut everything else, lock."""
    dirs = sorted({str(d).rstrip("/") + "/" for d in allowed_dirs})
    dirs = [d for d in dirs if not any(d != o and d.startswith(o) for o in dirs)]  # inside another
    con.execute(f"set allowed_directories = [{', '.join(sql_str(d) for d in dirs)}]")
    paths = _allowed_relative_paths(relative_paths)
    if paths:
        con.execute(f"set allowed_paths = [{', '.join(sql_str(p) for p in paths)}]")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def _relative_model_paths(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The string literals in the models' view definitions that may be relative file paths."""
    rows = con.execute(
        "select sql from duckdb_views() where database_name = ? and not internal", [MODELS_CATALOG]
    ).fetchall()
    found = set()
    for (sql,) in rows:
        for match in _STRING_LITERAL.finditer(sql or ""):
            text = match.group(1).replace("''", "'")
            if (
                text
                and len(text) <= 1024
                and ("/" in text or "." in text)
                and not any(ch.isspace() or ch == "\0" for ch in text)
                and not text.startswith(("/", "~"))
                and not _URL.match(text)
                and ".." not in Path(text).parts
            ):
                found.add(text)
    return sorted(found)


def _allowed_relative_paths(relative_paths: list[str]) -> list[str]:
    """Each relative path as DuckDB checks it (joined to the current directory, symlinks
    resolved), kept only where nothing exists outside the warehouse under that name: then
    allowing the exact path lets the check pass without exposing a file."""
    try:
        cwd = Path.cwd()
    except OSError:
        return []
    allowed = []
    for text in relative_paths:
        parts = Path(text).parts
        fixed = next((i for i, part in enumerate(parts) if _GLOB_CHARS.search(part)), len(parts))
        prefix = cwd.joinpath(*parts[:fixed])
        if prefix.exists() or prefix.is_symlink():  # something is there: keep it refused
            continue
        allowed.append(os.path.realpath(cwd / text))
    return allowed
