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
  Parquet files, written relative to where dbt ran) are looked up in the current
  directory, the warehouse and the warehouse's parent (DuckDB's `file_search_path`);
- only queries run: each statement must parse as SELECT (which includes WITH, VALUES,
  FROM-first, DESCRIBE, SHOW, SUMMARIZE) or EXPLAIN [ANALYZE] of one. The configuration is
  locked once the views exist.
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

from ingest.duck import sql_ident, sql_str
from ingest.snapshot import current_snapshot
from ingest.tables import TABLES
from svit.errors import SvitError
from svit.warehouse import Warehouse

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
            _refuse(statement.query, kind.name)
    return [s.query for s in statements]


def _parse(sql: str) -> list:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SvitError(_first_line(exc)) from exc


def _refuse(statement: str, kind: str) -> None:
    snippet = " ".join(statement.split())
    snippet = snippet if len(snippet) <= 40 else snippet[:39] + "…"
    raise SvitError(
        f"svit sql runs read-only queries; refused this {kind} statement ({snippet}). "
        "Allowed: SELECT / WITH / VALUES / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN; "
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
    temp_dir = Path(tempfile.mkdtemp(prefix="svit-sql-"))
    con = duckdb.connect(config={"temp_directory": str(temp_dir)})
    try:
        session = Session(con, present, [], "", temp_dir)
        con.execute(f"set file_search_path = {sql_str(','.join(_search_dirs(root)))}")
        for table in present:
            folder = (snapshot / table) if snapshot is not None and (snapshot / table).is_dir() else (root / table).resolve()
            _create_table_view(con, table, folder)
        if models:
            _attach_models(session, warehouse.duckdb_path)
        else:
            session.models_note = "models not attached (--no-models)"
        con.execute("set lock_configuration = true")
        return session
    except BaseException:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise


def _search_dirs(root: Path) -> list[str]:
    """Where relative paths inside models are looked up: cwd (as usual), the warehouse, its parent."""
    dirs = [str(root), str(root.parent)]
    try:
        dirs.insert(0, os.getcwd())
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
        raise SvitError(_explain_error(session, exc)) from exc
    return session.con


def _load_dbt_plugins(con: duckdb.DuckDBPyConnection) -> bool:
    """Register the functions of the dbt-duckdb plugins named in the project's profiles.yml."""
    import importlib

    import yaml

    from svit.build import PROJECT_DIR

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


def _explain_error(session: Session, exc: duckdb.Error) -> str:
    message = _first_line(exc)
    if _MISSING_TABLE.search(message):
        message = message.rstrip("!.") + f". Tables: {', '.join(session.tables)}"
        message += f"; models: {', '.join(session.models)}" if session.models else f"; {session.models_note}"
    elif session.models and "No files found" in message:
        message += (
            " (relative paths inside dbt models are looked up in the current directory, the warehouse "
            "and its parent; rebuild with `svit build`, or use --no-models for the Parquet tables)"
        )
    return message


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
            raise SvitError(_explain_error(session, exc)) from exc
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
