"""Smoke test of bench/run_bench.py on a 30-image corpus: the table prints, counts agree."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO

RUN_BENCH = REPO / "bench" / "run_bench.py"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    results = work / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN_BENCH),
            "--images",
            "30",
            "--seed",
            "0",
            "--workdir",
            str(work / "w"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, json.loads(results.read_text()) if results.is_file() else None, work


def table_rows(stdout: str) -> dict[str, str]:
    """The stage table's rows by stage name: the lines after the header's rule, up to a blank line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("stage ")) + 2
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        rows[line.split()[0]] = line
    return rows


def test_exits_zero(bench_run):
    proc, _, _ = bench_run
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_table_has_ingest_and_naive_rows(bench_run):
    proc, _, _ = bench_run
    rows = table_rows(proc.stdout)
    for stage in ("sample", "ingest", "naive"):
        assert stage in rows, proc.stdout
        # stage, seconds, input MB, MB/s, peak RSS: all numbers for a stage that ran
        assert re.match(rf"{stage}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+", rows[stage]), rows[stage]
    for stage in ("build", "export", "stats"):  # timed, or shown as skipped
        assert stage in rows, proc.stdout
    assert "ingest speedup over naive:" in proc.stdout


def test_naive_counts_equal_warehouse_and_ground_truth(bench_run):
    _, results, work = bench_run
    assert results is not None
    truth = json.loads((work / "w" / "corpus" / "GROUND_TRUTH.json").read_text())
    counts = results["counts"]
    for source in ("naive", "warehouse"):
        got = counts[source]
        assert got is not None, source
        assert got["blocks_per_task"] == truth["blocks_per_task"], source
        assert got["turns_per_task"] == truth["turns_per_task"], source
        assert got["boxes_total"] == truth["boxes_total"], source
    assert results["counts_agree"] is True


def test_results_json_has_machine_facts_and_stages(bench_run):
    _, results, _ = bench_run
    machine = results["machine"]
    for key in ("nproc", "cpu_model", "ram_gib", "python", "duckdb"):
        assert machine.get(key), key
    by_name = {s["name"]: s for s in results["stages"]}
    for stage in ("ingest", "naive"):
        assert by_name[stage]["status"] == "ok"
        assert by_name[stage]["peak_rss_mib"] > 0
        assert by_name[stage]["input_bytes"] > 0
    assert by_name["ingest"]["input_bytes"] > by_name["naive"]["input_bytes"]  # + image_data.json
    assert results["speedup_ingest_over_naive"] > 0
