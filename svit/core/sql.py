"""Quoting values and names into SQL text, for the statements that cannot take parameters."""

from __future__ import annotations

import os


def sql_str(value: str | os.PathLike) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier (a column or struct field of any name)."""
    return '"' + str(name).replace('"', '""') + '"'
