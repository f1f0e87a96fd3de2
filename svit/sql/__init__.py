"""`svit sql`: read-only SQL over the warehouse tables and the dbt models, its result written
as a table, CSV or JSON.

Each call opens a read session (svit/core/session.py: the tables and models by bare name,
contained to the warehouse), checks that every statement is a query and runs them
(guard.py), and streams the last statement's result to a writer (output.py). `--tables`
lists the relations a user queries, each with a description (catalog.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import duckdb

from svit.core.dbt import load_dbt_plugins
from svit.core.errors import SvitError
from svit.core.session import Session, open_session
from svit.core.warehouse import Warehouse
from svit.sql.catalog import format_relations, user_relations
from svit.sql.guard import explain_error, read_only_statements
from svit.sql.output import FORMATS, WRITERS

BATCH_ROWS = 10_000
_MISSING_FUNCTION = re.compile(r"Function with name (\w+) does not exist", re.IGNORECASE)


@dataclass
class Result:
    """A query's columns, DuckDB type names and rows (Python values, as DuckDB returns them)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple]


def execute(session: Session, sql: str) -> duckdb.DuckDBPyConnection:
    """Run the checked statements; the connection holds the last statement's result."""
    statements = read_only_statements(sql)
    try:
        try:
            for statement in statements:
                session.con.execute(statement)
        except duckdb.CatalogException as exc:
            # A model view calls a Python function that dbt registers through a plugin:
            # register the project's plugins here too (only then: importing dbt is slow), and
            # run the statements again; they are queries, so running twice is harmless.
            missing = _MISSING_FUNCTION.search(str(exc))
            from_a_model = session.models and missing and missing.group(1).lower() not in sql.lower()
            if not (from_a_model and load_dbt_plugins(session.con)):
                raise
            for statement in statements:
                session.con.execute(statement)
    except duckdb.Error as exc:
        raise SvitError(explain_error(session, exc, sql)) from exc
    return session.con


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
            return WRITERS[fmt](columns, types, batches, out)
        except duckdb.Error as exc:  # errors found while streaming (a bad cast in row 10,001)
            raise SvitError(explain_error(session, exc, sql)) from exc
    finally:
        session.close()


def list_tables(warehouse: Warehouse, out: IO[str], models: bool = True) -> int:
    """Write one line per user-facing relation (catalog.py) with its description; returns how many."""
    session = open_session(warehouse, models=models)
    try:
        rows = user_relations(session)
    finally:
        session.close()
    out.write(format_relations(rows))
    return len(rows)


def _columns(cursor: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    description = cursor.description or []
    return [d[0] for d in description], [str(d[1]) for d in description]


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple]]:
    while True:
        rows = cursor.fetchmany(BATCH_ROWS)
        if not rows:
            return
        yield rows
