"""Exceptions the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations


class SvitError(Exception):
    """Base class: a problem the user can act on; the message says what to do."""


class NotBuiltYet(SvitError):
    """A subcommand whose stage does not exist yet."""


class InputError(SvitError):
    """An input file that cannot be read at all (not JSON, truncated, missing member)."""
