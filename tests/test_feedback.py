"""What `svit sample`, `svit ingest` and `svit build` say while they run and when they end:
progress on standard error only when it is a terminal, one line per input file or model, a
last line with totals and the time, internal lines only with -v, and dbt's errors on failure."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import _Console, _excluded_types
from svit.workflows import build_args
from tests.helpers import REPO, one_line_error, qa, svit_cli, vg_image, write_corpus

LLAVA = [str(p) for p in sorted((BUNDLED_SAMPLE / "llava").glob("*.json"))]
TIME = r"\d+\.\ds"


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """`svit ARGS` with standard error on a terminal (160 columns) and standard output piped:
    exit status, standard output, and what the terminal showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "svit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        text=True,
    )
    os.close(follower)
    shown: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join()
    os.close(leader)
    return proc.returncode, out, b"".join(shown).decode(errors="replace")


# --------------------------------------------------------------------------- svit sample


def test_sample_ends_with_one_summary_line_and_no_progress_off_a_terminal(tmp_path):
    proc = svit_cli("sample", "--out", str(tmp_path / "corpus"), "--images", "20")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # standard error is a pipe here: no bars
    truth = json.loads((tmp_path / "corpus" / "GROUND_TRUTH.json").read_text())
    blocks = truth["blocks_per_task"]
    assert proc.stdout.splitlines() == [proc.stdout.strip()]
    assert re.fullmatch(
        rf"wrote .*corpus: 20 images, {sum(blocks.values()):,} SVIT blocks \("
        + ", ".join(f"{task} {n:,}" for task, n in blocks.items())
        + rf"\), {truth['qa_pairs_total']:,} QA pairs, a LLaVA-1.5 mix of {truth['llava_mix665k']['records']:,} records"
        rf", in {TIME}",
        proc.stdout.strip(),
    ), proc.stdout


def test_sample_shows_counts_and_rate_on_a_terminal(tmp_path):
    status, out, shown = on_a_terminal("sample", "--out", str(tmp_path / "corpus"), "--images", "300")
    assert status == 0, shown
    assert re.search(r"SVIT data and annotations: +\d+%.*\d+/300 \[", shown), shown
    assert "images/s" in shown and "records/s" in shown and "LLaVA-1.5 files" in shown
    assert re.search(r"[\d,]+ blocks, [\d,]+ QA pairs", shown), shown  # the counts so far
    assert out.startswith("wrote ") and "300 images" in out  # the summary stays on standard output


# --------------------------------------------------------------------------- svit ingest


def _file_lines(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.startswith("  ")]


def test_ingest_says_each_file_once_then_the_totals_and_time(tmp_path):
    proc = svit_cli(
        "ingest", str(BUNDLED_SAMPLE), *sum((["--llava", f] for f in LLAVA), []), "--warehouse", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = _file_lines(proc.stdout)
    names = [line.split(":")[0] for line in lines]
    assert sorted(names) == sorted(
        ["image_data.json", "objects.json", "region_descriptions.json", "captions_train2017.json"]
        + [f"{task}.json" for task in ("conversation", "complex_reasoning", "detail_description", "referring_qa")]
        + ["SVIT_core_150K.json", "SVIT_mix_665K.json", "llava_v1_5_mix665k.json", "llava_instruct_150k.json"]
    ), proc.stdout
    referring = next(line for line in lines if line.startswith("referring_qa.json"))
    assert re.fullmatch(
        r"referring_qa\.json: [\d,]+ records, [\d,]+ blocks, [\d,]+ turns, [1-9][\d,]* boxes, 0 rejected "
        r"\([\d,]+ records/s\)",
        referring,
    )
    for internal in ("svit scan", "rescans", "MB in", "typed read", "together"):
        assert internal not in proc.stdout, internal
    last = proc.stdout.splitlines()[-1]
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path))}: snapshot \w+, 12 sources \(12 read, 0 unchanged, 0 kept\), "
        rf"[\d,]+ records read, 0 rejected, {TIME}",
        last,
    ), last
    again = svit_cli(
        "ingest", str(BUNDLED_SAMPLE), *sum((["--llava", f] for f in LLAVA), []), "--warehouse", str(tmp_path)
    )
    assert re.fullmatch(rf".*: up to date \(every input unchanged since run \w+\), {TIME}\n", again.stdout)


def test_ingest_verbose_adds_the_readers_own_lines(tmp_path):
    proc = svit_cli("ingest", str(BUNDLED_SAMPLE), "--warehouse", str(tmp_path), "-v")
    assert proc.returncode == 0, proc.stderr
    assert "svit rescans (bad input only):" in proc.stdout and "MB/s, typed read)" in proc.stdout
    assert re.search(r"^  referring_qa\.json: .* records/s\) \[typed read\]$", proc.stdout, re.M), proc.stdout
    assert re.search(rf", {TIME}$", proc.stdout.strip())


def test_ingest_shows_the_first_rejected_records_with_their_reason(tmp_path):
    items = [
        {"image_id": 1, "conversations": [{"content": qa("q", "a")}, {"content": []}]},
        {"image_id": 2, "conversations": "not a list"},
        {"image_id": 99, "conversations": [{"content": qa("q", "a")}]},
        {"image_id": 3, "conversations": [{"content": [{"from": "user", "value": "q"}]}]},
        {"image_id": 3, "conversations": [{"content": qa("q", "a")}]},
    ]
    source = write_corpus(tmp_path / "src", {"conversation": items}, [vg_image(i) for i in (1, 2, 3)])
    proc = svit_cli("ingest", str(source), "--warehouse", str(tmp_path / "wh"))
    assert proc.returncode == 0, proc.stderr
    lines = _file_lines(proc.stdout)
    assert re.fullmatch(
        r"conversation\.json: 5 records, [\d,]+ blocks, [\d,]+ turns, 0 boxes, (\d+) rejected \(.*\)", lines[1]
    )
    rejected = int(re.search(r"(\d+) rejected", lines[1]).group(1))
    assert lines[2:5] == [
        'rejected record 0, block 1: empty "content"',
        'rejected record 1: "conversations" is not a list',
        "rejected record 2: image_id 99 is not in image_data.json",
    ], proc.stdout
    assert lines[5] == f"and {rejected - 3} more (all of them are in the rejects table)"
    assert f", {rejected} rejected (see the rejects table), " in proc.stdout.splitlines()[-1]


# --------------------------------------------------------------------------- svit build


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """The bundled sample with its LLaVA files, ingested, for this module's builds."""
    root = tmp_path_factory.mktemp("feedback") / "wh"
    proc = svit_cli("ingest", str(BUNDLED_SAMPLE), *sum((["--llava", f] for f in LLAVA), []), "--warehouse", str(root))
    assert proc.returncode == 0, proc.stderr
    return root


def test_build_prints_the_model_table_and_a_summary_and_logs_dbt(ingested):
    proc = svit_cli("build", "--warehouse", str(ingested))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no terminal: no progress line; dbt's output is in the log only
    log = ingested / "dbt" / "logs" / "build.log"
    assert "Running with dbt=" not in proc.stdout and " START " not in proc.stdout
    text = log.read_text()
    assert "Running with dbt=" in text and " START sql " in text and "Completed successfully" in text
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["model", "seconds"]
    results = json.loads((ingested / "dbt" / "target" / "run_results.json").read_text())["results"]
    models = [r for r in results if r["unique_id"].startswith("model.")]
    tests = [r for r in results if r["unique_id"].split(".")[0] in ("test", "unit_test")]
    assert tests and not [r for r in tests if r["unique_id"].startswith("unit_test.")]  # --unit-tests runs them
    assert [line.split()[0] for line in lines[1 : 1 + len(models)]] == sorted(
        (r["unique_id"].split(".")[2] for r in models),
        key=lambda name: -next(r["execution_time"] for r in models if r["unique_id"].split(".")[2] == name),
    )
    assert re.fullmatch(
        rf"built {len(models)} models( and \d+ seeds?)?, {len(tests)} tests passed in {TIME}; "
        rf"dbt's output: {re.escape(str(log))}",
        lines[-1],
    ), lines[-1]


def test_build_runs_dbts_unit_tests_when_asked(ingested):
    proc = svit_cli("build", "--unit-tests", "--select", "stg_svit__turns", "--warehouse", str(ingested))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((ingested / "dbt" / "target" / "run_results.json").read_text())["results"]
    unit = sorted(r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("unit_test."))
    assert unit == ["svit_roles_read_as_llava_spells_them", "svit_turn_words_read_as_stored"]
    assert all(r["status"] == "pass" for r in results if r["unique_id"].startswith("unit_test."))


def test_build_leaves_unit_tests_out_unless_asked_or_chosen():
    leave_out = ("--exclude-resource-type", "unit_test")
    assert build_args((), unit_tests=False) == leave_out
    assert build_args(("--select", "llava_svit_all"), unit_tests=False) == ("--select", "llava_svit_all", *leave_out)
    assert build_args((), unit_tests=True) == ()
    for chosen in (("--select", "test_type:unit"), ("--resource-type", "model"), ("--exclude-resource-type=seed",)):
        assert build_args(chosen, unit_tests=False) == chosen


def test_build_verbose_streams_dbts_output_to_standard_error(ingested):
    proc = svit_cli("build", "-v", "--select", "stg_svit__images", "--warehouse", str(ingested))
    assert proc.returncode == 0, proc.stderr
    assert "Running with dbt=" in proc.stderr and "1 of " in proc.stderr
    assert "Running with dbt=" not in proc.stdout
    assert re.fullmatch(r"built 1 model, \d+ tests? passed in .*build\.log", proc.stdout.splitlines()[-1])


def test_build_shows_progress_on_a_terminal(ingested):
    status, out, shown = on_a_terminal("build", "--select", "stg_svit__images", "--warehouse", str(ingested))
    assert status == 0, shown
    assert "dbt build: 0 nodes [" in shown and "parsing the project" in shown
    assert re.search(r"dbt build: +\d+%.*\| \d+/\d+ nodes \[.*models 1, tests \d+", shown), shown
    assert "Running with dbt=" not in shown + out


def test_a_failed_build_shows_dbts_error_without_verbose(ingested):
    proc = svit_cli("build", "--vars", "{qwen_max_pixels: bogus}", "--warehouse", str(ingested))
    assert proc.returncode == 1
    lines = proc.stderr.rstrip().splitlines()
    assert any(
        "var qwen_max_pixels must be a whole number of pixels, at least 784 (one 28x28 patch), not bogus" in line
        for line in lines
    )
    assert all(line.startswith("  ") for line in lines[:-1]), proc.stderr  # dbt's lines, indented
    log = ingested / "dbt" / "logs" / "build.log"
    assert re.fullmatch(
        rf"svit: dbt build failed \(Compilation Error in model int_referring_grounded .*\); "
        rf"dbt's output is in {re.escape(str(log))}",
        lines[-1],
    ), lines[-1]
    assert "bogus" in log.read_text()
    assert proc.stdout == ""


# The events dbt prints with --log-format json, cut to the fields svit reads.
def _event(name: str, msg: str, level: str = "info", **data) -> str:
    return json.dumps({"info": {"name": name, "msg": msg, "level": level, "ts": "2026-12-02T10:00:00Z"}, "data": data})


def _node(uid: str, status: str, **more) -> dict:
    return {"node_info": {"unique_id": uid, "resource_type": uid.split(".")[0], "node_status": status}, **more}


FAILED_TEST = [
    _event("FoundStats", "Found 2 models, 1 data test", stat_line="2 models, 1 data test"),
    _event("LogStartLine", "1 of 3 START sql view model main.a", **_node("model.p.a", "started", index=1, total=3)),
    _event("LogModelResult", "1 of 3 OK created sql view model main.a", **_node("model.p.a", "success", index=1)),
    _event("LogTestResult", "2 of 3 FAIL 3 not_null_a_id", "error", **_node("test.p.not_null_a_id", "fail", index=2)),
    _event("SkippingDetails", "3 of 3 SKIP relation main.b", **_node("model.p.b", "skipped", index=3)),
    _event("RunResultFailure", "Failure in test not_null_a_id (models/a.yml)", "error", **_node("test.p.n", "None")),
    _event("RunResultError", "  Got 3 results, configured to fail if != 0", "error"),
    "a line that is not JSON",
]


def test_the_console_counts_nodes_by_kind_and_keeps_dbts_error_lines(tmp_path, capsys):
    console = _Console("build", tmp_path / "build.log", quiet=False, verbose=False)
    with console:
        for line in FAILED_TEST:
            console.line(line)
        assert console.total == 3 and console._counts() == "models 2/2, tests 1/1, 1 failed"
    console.show_errors()
    assert capsys.readouterr().err.splitlines() == [
        "  2 of 3 FAIL 3 not_null_a_id",
        "  Failure in test not_null_a_id (models/a.yml)",
        "    Got 3 results, configured to fail if != 0",  # dbt's own indent kept
    ]
    log = (tmp_path / "build.log").read_text().splitlines()
    assert len(log) == len(FAILED_TEST) and log[-1] == "a line that is not JSON"
    assert re.fullmatch(r"\d\d:\d\d:\d\d  1 of 3 START sql view model main\.a", log[1])


def test_the_console_counts_without_totals_for_a_selection(tmp_path):
    console = _Console("build", tmp_path / "build.log", quiet=False, verbose=False)
    with console:
        for line in FAILED_TEST:  # three nodes run of a project of ten
            console.line(line.replace("2 models, 1 data test", "7 models, 3 data tests"))
        assert console._counts() == "models 2, tests 1, 1 failed"


def test_the_console_totals_leave_out_the_resource_types_the_build_excludes(tmp_path):
    console = _Console("build", tmp_path / "build.log", quiet=False, verbose=False, excluded=("unit_test",))
    with console:
        for line in FAILED_TEST:  # the project's two unit tests do not run
            console.line(line.replace("2 models, 1 data test", "2 models, 1 data test, 2 unit tests"))
        assert console._counts() == "models 2/2, tests 1/1, 1 failed"
    assert _excluded_types(("--select", "a", "--exclude-resource-type", "unit_test")) == ("unit_test",)
    assert _excluded_types(("--exclude-resource-types=seed",)) == ("seed",)


def test_a_quiet_console_writes_only_its_log(tmp_path, capsys):
    console = _Console("build", tmp_path / "build.log", quiet=True, verbose=False)
    with console:
        for line in FAILED_TEST:
            console.line(line)
    console.show_errors()
    assert capsys.readouterr() == ("", "")
    assert console.first_error() == "2 of 3 FAIL 3 not_null_a_id"
    assert (tmp_path / "build.log").is_file()


def test_ingest_out_of_duckdb_memory_stops_with_one_line_and_writes_nothing(tmp_path, monkeypatch):
    # DuckDB's limit for ingest far too low for any read: the run names the setting, no traceback.
    monkeypatch.setenv("SVIT_INGEST_MEMORY_LIMIT", "1MB")
    warehouse = tmp_path / "wh"
    line = one_line_error(svit_cli("ingest", str(BUNDLED_SAMPLE), "--warehouse", str(warehouse)))
    assert "SVIT_INGEST_MEMORY_LIMIT=1MB" in line and "nothing was written" in line
    assert not (warehouse / "current").exists()
