"""What `svit sql` lets run, and what it says when something is refused: only queries pass
the statement check, and DuckDB's errors (a refusal of the session's containment, a missing
table) become a first line that says what happened and why, followed by DuckDB's hints
(`Did you mean "turns"?`, `Candidate bindings: ...`, the `LINE 1: ...` / `^` pair that
points at the mistake), indented below it.

A statement must parse as SELECT (which includes WITH, VALUES, FROM-first, DESCRIBE, SHOW,
SUMMARIZE) or EXPLAIN [ANALYZE] of one. The containment itself (no extensions, no network,
no files outside the warehouse, locked settings) is the read session's (svit/core/session.py);
the errors DuckDB gives for it ("Permission Error: Cannot access file ...") are turned into
one line here.
"""

from __future__ import annotations

import re

import duckdb

from svit.core.errors import SvitError, first_line
from svit.core.session import Session
from svit.core.sql import sql_str

_EXPLAIN = re.compile(
    r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*explain\b\s*(?:analy[sz]e\b\s*)?(?:\([^)]*\)\s*)?",
    re.IGNORECASE | re.DOTALL,
)
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist", re.IGNORECASE)
_IN_EXTENSION = re.compile(
    r'with name "?(\w+)"? is not in the catalog, but it exists in the (\w+) extension', re.IGNORECASE
)
_DENIED_PATH = re.compile(
    r'Cannot access (?:file|directory) "(.*)" - file system operations are disabled', re.IGNORECASE
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CALL_WITH_PATH = re.compile(r"(\w+)\s*\(\s*'((?:[^']|'')*)'")
_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_NO_EXTENSIONS = (
    "svit sql does not install or load extensions (the built-in ones, such as parquet and json, are always there)"
)


# --------------------------------------------------------------------------- statements


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
        raise SvitError(first_line(exc) + hint_lines(exc)) from exc


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


# --------------------------------------------------------------------------- errors


HINT_INDENT = "  "


def hint_lines(exc: BaseException) -> str:
    """DuckDB's lines after the first (`Candidate bindings: ...`, `Did you mean ...?`, the
    `LINE 1: ...` line and the `^` caret under the mistake), each on its own line indented by
    HINT_INDENT (the same for every line, so the caret stays under what it points at); "" when
    there are none."""
    lines = str(exc).strip().splitlines()[1:]
    return "".join(f"\n{HINT_INDENT}{line.rstrip()}" for line in lines if line.strip())


def explain_error(session: Session, exc: duckdb.Error, sql: str = "") -> str:
    """The message for an error DuckDB gave running `sql` on the session: one line saying what
    happened, then DuckDB's hint lines (hint_lines) for errors in the query itself."""
    message = first_line(exc)
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
    return message + hint_lines(exc)


def _explain_containment(session: Session, message: str, sql: str) -> str | None:
    """One line for what the session's containment refused, or None."""
    in_extension = _IN_EXTENSION.search(message)
    if in_extension:
        return f"{_NO_EXTENSIONS}: {in_extension.group(1)} is in DuckDB's {in_extension.group(2)} extension"
    if "extensions is disabled" in message.lower():  # LOAD
        return _NO_EXTENSIONS
    locked = "configuration has been locked" in message
    if locked or ("Modifying" in message and "disabled by configuration" in message):
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
