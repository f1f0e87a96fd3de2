"""The CLI contract: every subcommand exists, takes --warehouse, and fails with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from svit.cli import cli

SUBCOMMANDS = sorted(cli.commands)


def test_the_contracts_commands_are_all_there():
    assert {
        "sample",
        "ingest",
        "build",
        "export",
        "verify",
        "stats",
        "sql",
        "demo",
        "sources",
        "drop",
        "status",
        "mix",
    } <= set(SUBCOMMANDS)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_takes_warehouse_option(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "--warehouse" in result.output


def test_failure_is_one_line_and_nonzero(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "stats", "--warehouse", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("svit: no warehouse tables in")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_option_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "svit.cli", "sample"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--out" in proc.stderr
