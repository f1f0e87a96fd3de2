"""The CLI contract: every subcommand exists, takes --warehouse (but `sample`), before or after
its name, has help for every option and an example, and fails with one line."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from svit.cli import cli
from svit.core.settings import WAREHOUSE_VAR

SUBCOMMANDS = sorted(cli.commands)
# Commands without --warehouse, and why.
NO_WAREHOUSE = {"sample": "it writes a corpus (--out), not a warehouse"}


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


def _help(*args: str, width: int = 200) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_takes_warehouse_option(name):
    if name in NO_WAREHOUSE:
        pytest.skip(f"svit {name} has no --warehouse: {NO_WAREHOUSE[name]}")
    assert "--warehouse" in _help(name)


@pytest.mark.parametrize("name", sorted(NO_WAREHOUSE))
def test_the_exempt_commands_do_not_offer_warehouse(name):
    assert "--warehouse" not in _help(name)
    assert "warehouse_dir" not in {p.name for p in cli.commands[name].params}


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_ends_with_an_example_of_the_command(name):
    text = _help(name)
    assert "Example:" in text, f"svit {name} --help has no Example"
    # The example is the description's last paragraph: only indented lines up to Options.
    block = text.split("Example:\n", 1)[1].split("\nOptions:", 1)[0].strip("\n")
    lines = block.splitlines()
    assert all(re.match(r" +svit ", line) for line in lines), block
    assert any(re.match(rf"svit {re.escape(name)}(\s|$)", line.strip()) for line in lines), block


@pytest.mark.parametrize("name", ["(group)", *SUBCOMMANDS])
def test_every_option_has_help(name):
    command = cli if name == "(group)" else cli.commands[name]
    bare = [p.name for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert not bare, f"svit {name}: options without help: {bare}"


@pytest.mark.parametrize("width", [80, 60])
def test_top_level_help_shows_every_summary_whole(width):
    text = _help(width=width)
    commands = text.split("Commands:\n", 1)[1]
    assert "..." not in commands, commands
    for name, command in cli.commands.items():
        summary = command.get_short_help_str(limit=45)
        assert not summary.endswith("..."), f"svit {name}: {summary}"
        if width == 80:  # one line each
            assert re.search(rf"^  {name} +{re.escape(summary)}$", commands, re.M), commands


# --warehouse before the command: the command's own option, then the group's, then
# $SVIT_WAREHOUSE, then ./warehouse. built_sample is shared: read it only.


def _run(*args: str, env: str | None = None):
    return CliRunner(env={WAREHOUSE_VAR: env}).invoke(cli, list(args))


def test_group_warehouse_option_reaches_status(built_sample):
    result = _run("--warehouse", str(built_sample.root), "status")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"warehouse {built_sample.root}\n")


def test_group_warehouse_option_reaches_sql(built_sample):
    query = "select count(*) as n from images"
    before = _run("--warehouse", str(built_sample.root), "sql", "--format", "csv", query)
    after = _run("sql", "--format", "csv", query, "--warehouse", str(built_sample.root))
    assert before.exit_code == 0, before.output
    assert before.output == after.output
    assert re.fullmatch(r"n\n[1-9]\d*\n", before.output), before.output


def test_the_commands_own_option_wins_over_the_groups(built_sample, tmp_path):
    empty = tmp_path / "empty"
    result = _run("--warehouse", str(empty), "status", "--warehouse", str(built_sample.root))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"warehouse {built_sample.root}\n")
    result = _run("--warehouse", str(built_sample.root), "sql", "select 1", "--warehouse", str(empty))
    assert result.exit_code != 0
    assert "no warehouse tables in" in str(result.exception)


def test_the_groups_option_wins_over_the_environment(built_sample, tmp_path):
    result = _run("--warehouse", str(built_sample.root), "status", env=str(tmp_path / "empty"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"warehouse {built_sample.root}\n")


def test_the_environment_still_picks_the_warehouse(built_sample):
    result = _run("status", env=str(built_sample.root))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"warehouse {built_sample.root}\n")


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
