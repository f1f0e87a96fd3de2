"""Exceptions the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations


class SvitError(Exception):
    """Base class: a problem the user can act on; the message says what to do."""


class InputError(SvitError):
    """An input file that cannot be read at all (not JSON, truncated, missing member)."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (DuckDB's run to several), or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
