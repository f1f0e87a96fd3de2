"""dbt runs in an interpreter of its own, started ahead of its job (svit/core/dbt.py)."""

from __future__ import annotations

import duckdb
import pytest

from svit.core.dbt import run_dbt, started_dbt
from svit.core.errors import SvitError


def test_a_started_dbt_given_no_job_is_stopped():
    with started_dbt() as process:
        pass
    assert process.proc.returncode is not None and not process.used


def test_dbt_s_exit_code_comes_through_and_the_database_is_released(built_sample):
    with started_dbt() as process:
        run_dbt(built_sample, "ls", ("--select", "stg_svit__images"), quiet=True, process=process)
    assert process.proc.returncode == 0
    # dbt-duckdb's database was closed on the way out: svit.duckdb opens for writing at once.
    duckdb.connect(str(built_sample.duckdb_path)).close()
    with pytest.raises(SvitError, match=r"^dbt ls failed"):
        run_dbt(built_sample, "ls", ("--no-such-option",), quiet=True)


def test_a_started_dbt_runs_one_job(built_sample):
    with started_dbt() as process:
        run_dbt(built_sample, "ls", ("--select", "stg_svit__images"), quiet=True, process=process)
        with pytest.raises(RuntimeError, match="one job"):
            process.run({}, ["ls"])
