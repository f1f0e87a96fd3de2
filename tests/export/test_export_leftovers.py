"""A killed export leaves temporary files; the next export removes them, never a live run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from svit.core.leftovers import owner_tag
from svit.export import export
from tests.helpers import query


def svit_command() -> list[str]:
    script = Path(sys.executable).with_name("svit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "svit.cli"]


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def partials(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.endswith(".partial")}


def test_the_export_after_a_killed_one_removes_its_leftovers(built_sample, tmp_path):
    out_dir, temp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    temp.mkdir()
    out = out_dir / "all.json"
    argv = svit_command() + [
        "export",
        "llava_svit_all",
        "--warehouse",
        str(built_sample.root),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = {**os.environ, "TMPDIR": str(temp)}  # DuckDB's spill folder goes under TMPDIR

    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_partial: set[str] = set()
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            killed_partial = partials(out_dir)
            if killed_partial:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()  # reaped: its pid is gone, as after any killed run
    if killed_partial and proc.returncode == -signal.SIGKILL:  # not when it finished just before the signal
        assert all(f".all.json.{owner_tag(proc.pid)}." in name for name in killed_partial)
        assert not out.exists()

    # Should the export have finished before its partial file was seen, these stand for what a
    # killed run leaves; they are there in any case. Beside them: a live run's, and another host's.
    gone = owner_tag(dead_pid())
    (out_dir / f".all.json.{gone}.abcd1234.partial").write_text('[{"id": ')
    (out_dir / f".pq.{gone}.abcd1234.partial").mkdir()
    (out_dir / f".pq.{gone}.abcd1234.partial" / "train_0.parquet").write_bytes(b"PAR1")
    (temp / f"svit-export-{gone}-abcd1234").mkdir()
    (temp / f"svit-export-{gone}-abcd1234" / "duckdb_temp_storage-0.tmp").write_bytes(b"x")
    live = owner_tag(os.getpid())
    other_host = f"{gone.split('@')[0]}@another-host"
    keep = {f".all.json.{live}.live1234.partial", f".all.json.{other_host}.host1234.partial"}
    for name in keep:
        (out_dir / name).write_text("still being written")
    (temp / f"svit-export-{live}-live1234").mkdir()

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert partials(out_dir) == keep
    assert [p.name for p in temp.iterdir()] == [f"svit-export-{live}-live1234"]
    [(records,)] = query(built_sample, "select count(*) from llava_svit_all")
    assert len(json.loads(out.read_text(encoding="utf-8"))) == records


def test_a_parquet_export_removes_a_killed_one_s_folder(built_sample, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    gone, live = owner_tag(dead_pid()), owner_tag(os.getpid())
    left = tmp_path / f".core.{gone}.abcd1234.partial"
    (left / "shards").mkdir(parents=True)
    (left / "shards" / "train_0.parquet").write_bytes(b"PAR1")
    running = tmp_path / f".core.{live}.live1234.partial"
    running.mkdir()
    result = export(built_sample, "svit_core_150k", tmp_path / "core", "parquet", progress=False)
    assert result.records > 0 and (tmp_path / "core" / "README.md").is_file()
    assert partials(tmp_path) == {running.name}
    assert list((tmp_path / "tmp").iterdir()) == []  # this run's spill folder is gone too


@pytest.mark.parametrize("name", [".all.json.1.abcd1234.partial", ".all.json.abcd1234.partial", "all.json.partial"])
def test_partial_files_named_otherwise_are_left_alone(built_sample, tmp_path, name):
    """Files this scheme did not name (an older svit's, or anyone else's) cannot say whose they are."""
    (tmp_path / name).write_text("?")
    export(built_sample, "svit_core_150k", tmp_path / "all.json", progress=False)
    assert partials(tmp_path) == {name}
