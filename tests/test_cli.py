"""The CLI contract: every subcommand exists, takes --warehouse, and never fakes success."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from svit.cli import cli

SUBCOMMANDS = ["sample", "ingest", "build", "export", "verify", "stats", "sql", "demo"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_takes_warehouse_option(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "--warehouse" in result.output


def test_unbuilt_stage_exits_nonzero_with_one_line_reason(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "stats", "--warehouse", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("svit: `svit stats` is not built yet")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_option_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "svit.cli", "sample"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--out" in proc.stderr
