"""`svit sql`: read-only SQL over the warehouse tables and the dbt models.

One in-memory DuckDB per call:

- every warehouse table is a view by its bare name over
  `read_parquet('<snapshot>/<table>/**/*.parquet', hive_partitioning = true)`, so the
  partition columns (task, source, split) are ordinary VARCHAR columns. The views point
  at the snapshot `current` named when the command started, so one query never mixes two
  ingest runs;
- `<warehouse>/svit.duckdb`, when it exists, is attached READ_ONLY as `svit` (the catalog
  name dbt-duckdb gives it, so its fully qualified references keep working) and its
  schemas are put on the search path: models are found by bare name, and a model is only
  bound when a query names it;
- relative file paths inside the models (dbt-duckdb `external` models are views over
  Parquet files, written relative to where dbt ran) are looked up in the warehouse and
  the warehouse's parent, and first in the current directory when that is inside the
  warehouse (DuckDB's `file_search_path`);
- only queries run: each statement must parse as SELECT (which includes WITH, VALUES,
  FROM-first, DESCRIBE, SHOW, SUMMARIZE) or EXPLAIN [ANALYZE] of one.

A query is also contained: it reads the warehouse and nothing else. A SELECT can still
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
killed leaves its directory behind, and the next run removes those whose process is gone.

Errors DuckDB gives for all this ("Permission Error: Cannot access file ...") are turned
into one line that says what was refused and why.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

import duckdb

from svit.core.sql import sql_ident, sql_str
from svit.core.snapshots import current_snapshot
from svit.core.tables import TABLES
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse

MODELS_CATALOG = "svit"  # dbt-duckdb names the database after the file stem
FORMATS = ("table", "csv", "json")
MAX_TABLE_ROWS = 1000  # the table format shows this many rows; csv and json write all
MAX_CELL_WIDTH = 60
BATCH_ROWS = 10_000
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)")
_EXPLAIN = re.compile(
    r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*explain\b\s*(?:analy[sz]e\b\s*)?(?:\([^)]*\)\s*)?",
    re.IGNORECASE | re.DOTALL,
)
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)
_MISSING_FUNCTION = re.compile(r"Function with name (\w+) does not exist", re.IGNORECASE)
_IN_EXTENSION = re.compile(r'with name "?(\w+)"? is not in the catalog, but it exists in the (\w+) extension', re.IGNORECASE)
_DENIED_PATH = re.compile(r'Cannot access (?:file|directory) "(.*)" - file system operations are disabled', re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CALL_WITH_PATH = re.compile(r"(\w+)\s*\(\s*'((?:[^']|'')*)'")
_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_GLOB_CHARS = re.compile(r"[*?\[{]")
TEMP_PREFIX = "svit-sql-"
_TEMP_NAME = re.compile(rf"^{TEMP_PREFIX}(\d+)-\w+$")
_NO_EXTENSIONS = "svit sql does not install or load extensions (the built-in ones, such as parquet and json, are always there)"


@dataclass
class Result:
    """A query's columns, DuckDB type names and rows (Python values, as DuckDB returns them)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple]


# --------------------------------------------------------------------------- checks


def read_only_statements(sql: str) -> list[str]:
    """The statements of `sql`, each checked to be a query; SvitError otherwise."""
    statements = _parse(sql)
    if not statements:
        raise SvitError("no SQL statement given")
    for statement in statements:
        kind = statement.type
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", statement.query, count=1)
            inner_statements = _parse(inner) if inner != statement.query else []
            if len(inner_statements) != 1 or inner_statements[0].type != duckdb.StatementType.SELECT:
                _refuse(statement.query, "EXPLAIN of a non-query")
        elif kind != duckdb.StatementType.SELECT:
            _refuse(statement.query, kind.name, _REFUSAL_REASONS.get(kind))
    return [s.query for s in statements]


_REFUSAL_REASONS = {
    duckdb.StatementType.LOAD: _NO_EXTENSIONS,  # INSTALL and LOAD
    duckdb.StatementType.SET: (
        "its settings are locked, so that a query reads only the warehouse, with no network and no extensions"
    ),
}


def _parse(sql: str) -> list:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SvitError(_first_line(exc)) from exc


def _refuse(statement: str, kind: str, reason: str | None = None) -> None:
    snippet = " ".join(statement.split())
    snippet = snippet if len(snippet) <= 40 else snippet[:39] + "…"
    message = f"svit sql runs read-only queries; refused this {kind} statement ({snippet})"
    if reason:
        raise SvitError(f"{message}: {reason}")
    raise SvitError(
        f"{message}. Allowed: SELECT / WITH / VALUES / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN; "
        "write files with `svit export`, change the warehouse with `svit ingest` or `svit build`"
    )


# --------------------------------------------------------------------------- connection


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


def open_session(warehouse: Warehouse, models: bool = True) -> Session:
    """Connect, create the table views, attach svit.duckdb read-only; SvitError if unusable."""
    root = warehouse.root
    snapshot = current_snapshot(root)
    present = [t for t in TABLES if (root / t).is_dir()]
    if not present:
        raise SvitError(
            f"no warehouse tables in {root}: run `svit ingest SOURCE_DIR --warehouse {root}` "
            f"(or `svit demo --warehouse {root}`) first"
        )
    temp_base = Path(tempfile.gettempdir())
    remove_leftover_temp_dirs(temp_base)
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=temp_base))
    # Extensions off before anything runs (module docstring, step 1).
    con = duckdb.connect(
        config={
            "temp_directory": str(temp_dir),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    try:
        session = Session(con, present, [], "", temp_dir, root)
        con.execute(f"set file_search_path = {sql_str(','.join(_search_dirs(root)))}")
        allowed = [root.resolve(), temp_dir.resolve()]
        for table in present:
            folder = (snapshot / table) if snapshot is not None and (snapshot / table).is_dir() else (root / table).resolve()
            _create_table_view(con, table, folder)
            allowed.append(folder.resolve())
        if models:
            _attach_models(session, warehouse.duckdb_path)
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


def remove_leftover_temp_dirs(base: Path) -> list[Path]:
    """Remove the temp directories of `svit sql` runs whose process is gone (killed runs)."""
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_dir() or entry.is_symlink() or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process, or not a pid
        return True
    return True


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


def _attach_models(session: Session, path: Path) -> None:
    con = session.con
    if not path.is_file():
        session.models_note = f"no dbt models yet ({path.name} not built: run `svit build`)"
        return
    try:
        con.execute(f"attach {sql_str(str(path))} as {MODELS_CATALOG} (read_only)")
    except duckdb.Error as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = re.search(r"PID (\d+)", message)
            who = f" (process {holder.group(1)})" if holder else ""
            raise SvitError(
                f"{path} is locked by another process{who}: a `svit build` / `dbt build` or another writer "
                "is running. Wait for it to finish, or query the Parquet tables, which stay readable: "
                "run `svit sql --no-models ...`"
            ) from exc
        raise SvitError(
            f"cannot open the dbt models in {path}: {_first_line(exc)}; "
            "query the Parquet tables with `svit sql --no-models ...`"
        ) from exc
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- running


def execute(session: Session, sql: str) -> duckdb.DuckDBPyConnection:
    """Run the checked statements; the connection holds the last statement's result."""
    statements = read_only_statements(sql)
    try:
        try:
            for statement in statements:
                session.con.execute(statement)
        except duckdb.CatalogException as exc:
            # A model view calls a Python function that dbt registers through a plugin:
            # register the project's plugins here too (only then: importing dbt costs ~1 s),
            # and run the statements again; they are queries, so running twice is harmless.
            missing = _MISSING_FUNCTION.search(str(exc))
            if not (session.models and missing and missing.group(1).lower() not in sql.lower() and _load_dbt_plugins(session.con)):
                raise
            for statement in statements:
                session.con.execute(statement)
    except duckdb.Error as exc:
        raise SvitError(_explain_error(session, exc, sql)) from exc
    return session.con


def _load_dbt_plugins(con: duckdb.DuckDBPyConnection) -> bool:
    """Register the functions of the dbt-duckdb plugins named in the project's profiles.yml."""
    import importlib

    import yaml

    from svit.core.dbt import PROJECT_DIR

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


def _explain_error(session: Session, exc: duckdb.Error, sql: str = "") -> str:
    message = _first_line(exc)
    contained = _explain_containment(session, message, sql)
    if contained:
        return contained
    if _MISSING_TABLE.search(message):
        message = message.rstrip("!.") + f". Tables: {', '.join(session.tables)}"
        message += f"; models: {', '.join(session.models)}" if session.models else f"; {session.models_note}"
    elif session.models and "No files found" in message:
        message += (
            " (relative paths inside dbt models are looked up in the warehouse and its parent; "
            "rebuild with `svit build`, or use --no-models for the Parquet tables)"
        )
    return message


def _explain_containment(session: Session, message: str, sql: str) -> str | None:
    """One line for what the containment (module docstring) refused, or None."""
    in_extension = _IN_EXTENSION.search(message)
    if in_extension:
        return f"{_NO_EXTENSIONS}: {in_extension.group(1)} is in DuckDB's {in_extension.group(2)} extension"
    if "extensions is disabled" in message.lower():  # LOAD
        return _NO_EXTENSIONS
    if "configuration has been locked" in message or ("Modifying" in message and "disabled by configuration" in message):
        return f"svit sql's settings are locked, so that a query reads only the warehouse: {message}"
    denied = _DENIED_PATH.search(message)
    if denied:
        path = denied.group(1)
        if "/.duckdb/extensions" in path:  # duckdb_extensions() lists the extension directory
            return _NO_EXTENSIONS
        what = _named_in(sql, path)
        if _URL.match(path) and not path.lower().startswith("file://"):
            return (
                f"svit sql does not use the network: {what or repr(path)} is refused "
                f"(it reads only the warehouse {session.root})"
            )
        message = f"svit sql reads only the warehouse: {what or repr(path)} is outside {session.root}"
        if not what and session.models:
            message += (
                " (a dbt model reads it: models read the Parquet tables of the warehouse they were built in, "
                "and relative paths from the warehouse or its parent; rebuild with `svit build`)"
            )
        return message
    if message.startswith("Permission Error"):
        return f"svit sql reads only the warehouse, with no network and no extensions: {message}"
    return None


def _named_in(sql: str, path: str) -> str | None:
    """`read_text('/etc/passwd')` when the query calls a function on `path` (or on a folder or
    pattern DuckDB expanded into `path`); None when the query does not name it."""
    for match in _CALL_WITH_PATH.finditer(sql):
        literal = match.group(2).replace("''", "'")
        if literal and (path == literal or path.startswith(literal.rstrip("/") + "/")):
            return f"{match.group(1)}({sql_str(literal)})"
    for match in _STRING_LITERAL.finditer(sql):
        literal = match.group(1).replace("''", "'")
        if literal and (path == literal or path.startswith(literal.rstrip("/") + "/")):
            return sql_str(literal)
    return None


def query(warehouse: Warehouse, sql: str, models: bool = True) -> Result:
    """Run read-only SQL and return the whole result (for small results and tests)."""
    session = open_session(warehouse, models=models)
    try:
        cursor = execute(session, sql)
        columns, types = _columns(cursor)
        return Result(columns, types, cursor.fetchall() if columns else [])
    finally:
        session.close()


def run_sql(warehouse: Warehouse, sql: str, fmt: str, out: IO[str], models: bool = True) -> int:
    """Run read-only SQL and write the last statement's result to `out`; returns the row count."""
    if fmt not in FORMATS:
        raise SvitError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    session = open_session(warehouse, models=models)
    try:
        cursor = execute(session, sql)
        columns, types = _columns(cursor)
        batches = _batches(cursor) if columns else iter(())
        try:
            return {"table": write_table, "csv": write_csv, "json": write_json}[fmt](columns, types, batches, out)
        except duckdb.Error as exc:  # errors found while streaming (a bad cast in row 10,001)
            raise SvitError(_explain_error(session, exc, sql)) from exc
    finally:
        session.close()


def _columns(cursor: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    description = cursor.description or []
    return [d[0] for d in description], [str(d[1]) for d in description]


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple]]:
    while True:
        rows = cursor.fetchmany(BATCH_ROWS)
        if not rows:
            return
        yield rows


# --------------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON-ready Python: lists/dicts kept, decimals, dates, UUIDs as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN/inf are not JSON
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)


def _text(value: Any) -> str:
    """A value as one piece of text: strings as they are, nested values as JSON, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    plain = _plain(value)
    if isinstance(plain, (list, dict)):
        return json.dumps(plain, ensure_ascii=False)
    if isinstance(plain, bool):
        return "true" if plain else "false"
    return str(plain)


# --------------------------------------------------------------------------- formats


def write_json(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """A JSON array of objects, one per line; JSON columns embedded as JSON."""
    keys = _unique(columns)
    is_json = [t == "JSON" for t in types]
    n = 0
    out.write("[")
    for rows in batches:
        for row in rows:
            record = {}
            for key, value, parse in zip(keys, row, is_json):
                if parse and isinstance(value, str):
                    try:
                        record[key] = json.loads(value)
                        continue
                    except ValueError:
                        pass
                record[key] = _plain(value)
            out.write(("\n" if n == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
            n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_csv(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """CSV with a header row; NULL as an empty field, nested values as JSON."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for rows in batches:
        writer.writerows([_text(v) for v in row] for row in rows)
        n += len(rows)
    return n


def write_table(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """An aligned text table (at most MAX_TABLE_ROWS rows), then "(N rows)"."""
    shown: list[list[str]] = []
    n = 0
    for rows in batches:
        for row in rows:
            if len(shown) < MAX_TABLE_ROWS:
                shown.append([_cell(v) for v in row])
        n += len(rows)
    if columns:
        header = [_clip(c) for c in columns]
        widths = [max([_width(h)] + [_width(r[i]) for r in shown]) for i, h in enumerate(header)]
        right = [bool(_NUMERIC.match(t)) for t in types]
        out.write(_line(header, widths, right) + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for cells in shown:
            out.write(_line(cells, widths, right) + "\n")
    note = f"({n:,} {'row' if n == 1 else 'rows'}"
    if n > len(shown):
        note += f"; the first {len(shown):,} shown: add a LIMIT, or use --format csv or json for all"
    out.write(note + ")\n")
    return n


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and math.isfinite(value):
        text = f"{value:.4f}".rstrip("0").rstrip(".") if value == 0 or abs(value) >= 1e-4 else f"{value:.3e}"
    else:
        text = _text(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return _clip(text)


def _clip(text: str) -> str:
    """Text cut to MAX_CELL_WIDTH display columns, ending in … when cut."""
    if _width(text) <= MAX_CELL_WIDTH:
        return text
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > MAX_CELL_WIDTH - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _line(cells: list[str], widths: list[int], right: list[bool]) -> str:
    parts = []
    for cell, width, align_right in zip(cells, widths, right):
        pad = " " * (width - _width(cell))
        parts.append(pad + cell if align_right else cell + pad)
    return "  ".join(parts).rstrip()


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _width(text: str) -> int:
    """Display columns of `text` (wide East Asian characters count two)."""
    return len(text) if text.isascii() else sum(_char_width(ch) for ch in text)


def _unique(columns: list[str]) -> list[str]:
    """Column names made unique for JSON keys: a, a_1, a_2 ..."""
    seen: dict[str, int] = {}
    keys = []
    for name in columns:
        key, i = name, 0
        while key in seen:
            i += 1
            key = f"{name}_{i}"
        seen[key] = 1
        keys.append(key)
    return keys
