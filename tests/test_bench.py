"""Smoke test of bench/run_bench.py on a 30-image corpus: the table prints, counts agree."""

from __future__ import annotations

import importlib.util
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
            "--keep-cache",  # a smoke test: the machine's page cache is not this test's to drop
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
    assert results["cache_dropped_before_each_stage"] is False


def _run_bench_module():
    spec = importlib.util.spec_from_file_location("run_bench", RUN_BENCH)
    run_bench = importlib.util.module_from_spec(spec)
    sys.modules["run_bench"] = run_bench  # its dataclasses look their module up
    spec.loader.exec_module(run_bench)
    return run_bench


def test_a_repeated_stage_is_its_median_run_with_the_highest_peak():
    run_bench = _run_bench_module()
    Stage = run_bench.Stage

    def run(seconds, cpu, mib):
        return Stage("build", seconds=seconds, cpu_seconds=cpu, peak_rss_mib=mib)

    median = run_bench.median_run([run(46.0, 80.0, 3000.0), run(44.0, 77.0, 3300.0), run(45.0, 78.0, 3100.0)])
    assert (median.seconds, median.cpu_seconds, median.peak_rss_mib) == (45.0, 78.0, 3300.0)
    assert median.runs == [46.0, 44.0, 45.0]
    assert run_bench.spread_note(median) == "; median of 3 (44.00-46.00 s), peak of all"
    # An even count: the lower middle run, a real one.
    assert run_bench.median_run([run(2.0, 1.0, 1.0), run(1.0, 1.0, 1.0)]).seconds == 1.0
    # A failed run is the stage's result.
    failed = Stage("build", status="failed", note="exit 1")
    assert run_bench.median_run([run(45.0, 78.0, 3100.0), failed]) is failed
    assert run_bench.spread_note(run(45.0, 78.0, 3100.0)) == ""


def test_the_scaling_table_sets_each_scale_against_scale_one():
    run_bench = _run_bench_module()

    def run(build_s, build_mib):
        stages = [{"name": "build", "status": "ok", "seconds": build_s, "peak_rss_mib": build_mib}]
        return {"stages": stages + [{"name": "stats", "status": "failed", "seconds": None, "peak_rss_mib": None}]}

    lines = run_bench.scaling_lines({0.25: run(10.0, 1000.0), 1.0: run(40.0, 2000.0), 4.0: run(180.0, 2500.0)})
    [build] = [line for line in lines if line.startswith("build")]
    # 4x the data in 4.5x the time: 1.12 per unit of data; a quarter of it in a quarter: 1.00
    assert build.endswith("x0.25: 1.00, 0.50; x4: 1.12, 1.25")
    assert not any(line.startswith("stats") for line in lines)
