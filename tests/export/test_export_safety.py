"""`svit export` is all or nothing, says which models exist, and never writes inside the warehouse
(but into its exports/ folder)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import svit.export.output as export_output
import svit.export.records as export_records
import svit.export.run as export_run
from svit.cli import cli
from svit.core.errors import SvitError
from svit.export import export
from tests.helpers import one_line_error, query, svit_cli, warehouse_contents


def _fail_after(monkeypatch, writes: int) -> None:
    """The output file fails after `writes` writes (the file's opening bracket is one)."""
    real = export_output.write_all
    seen = {"n": 0}

    def failing(fd, data):
        seen["n"] += 1
        if seen["n"] > writes:
            raise OSError("disk full (simulated)")
        return real(fd, data)

    monkeypatch.setattr(export_run, "write_all", failing)
    monkeypatch.setattr(export_run, "BATCH_ROWS", 100)


@pytest.mark.parametrize("fmt", ["llava", "jsonl", "messages", "sharegpt", "qwen"])
def test_failure_mid_write_leaves_nothing(built_sample, tmp_path, monkeypatch, fmt):
    _fail_after(monkeypatch, 3)
    out = tmp_path / "out.json"
    with pytest.raises(OSError, match="simulated"):
        export(built_sample, "llava_svit_all", out, fmt, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(built_sample, tmp_path, monkeypatch):
    out = tmp_path / "out.json"
    out.write_text("previous")
    _fail_after(monkeypatch, 2)
    with pytest.raises(OSError):
        export(built_sample, "llava_v1_5_mix665k", out, progress=False)
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_parquet_failure_leaves_nothing(built_sample, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("killed (simulated)")

    monkeypatch.setattr(export_output.os, "replace", boom)
    with pytest.raises(OSError):
        export(built_sample, "svit_core_150k", tmp_path / "pq", "parquet", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_out_of_order_storage_falls_back_to_sorted(built_sample, tmp_path, monkeypatch):
    reversed_parts = tuple(reversed(export_records.MODEL_PARTS["llava_svit_all"]))
    monkeypatch.setitem(export_records.MODEL_PARTS, "llava_svit_all", reversed_parts)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    export(built_sample, "llava_svit_all", a, progress=False)
    monkeypatch.undo()
    export(built_sample, "llava_svit_all", b, progress=False)
    assert a.read_bytes() == b.read_bytes()


def test_unknown_model_lists_models(built_sample, tmp_path):
    with pytest.raises(SvitError) as info:
        export(built_sample, "llava_svit_everything", tmp_path / "x.json", progress=False)
    message = str(info.value)
    for name in ("llava_svit_all", "llava_svit_referring_qa", "llava_v1_5_mix665k", "svit_core_150k", "svit_mix_665k"):
        assert name in message
    assert "stg_llava__records" not in message and "llava_records" not in message.split("models:")[1]
    assert list(tmp_path.iterdir()) == []


def test_cli_export(built_sample, tmp_path):
    out = tmp_path / "core.json"
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "svit_core_150k",
            "--out",
            str(out),
            "--indent",
            "4",
            "--ascii",
            "--warehouse",
            str(built_sample.root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "438 records" in result.output
    assert out.read_bytes() == json.dumps(json.loads(out.read_text()), indent=4).encode()
    bad = CliRunner().invoke(
        cli, ["export", "nope", "--out", str(tmp_path / "n.json"), "--warehouse", str(built_sample.root)]
    )
    assert bad.exit_code != 0 and "models:" in str(bad.exception)


# --------------------------------------------------------------------------- outputs inside the warehouse


def a_table_file(root: Path) -> Path:
    return sorted(root.glob("turns/task=conversation/*.parquet"))[0]


def _link(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


# (case, --out given the warehouse root and a folder outside it, --format, what the message says)
REFUSED = [
    ("the database", lambda root, tmp: root / "svit.duckdb", "llava", "is the warehouse's database {root}/svit.duckdb"),
    (
        "a table's parquet file",
        lambda root, tmp: a_table_file(root),
        "jsonl",
        "is table data of the warehouse {root} (it resolves to {root}/.snapshots/",
    ),
    ("the warehouse itself", lambda root, tmp: root, "parquet", "is the warehouse {root} itself"),
    ("a file in mixes/", lambda root, tmp: root / "mixes" / "x.json", "llava", "is inside the warehouse {root}"),
    ("a parquet folder in dbt/", lambda root, tmp: root / "dbt" / "pq", "parquet", "is inside the warehouse {root}"),
    (
        "out of exports/ by ..",
        lambda root, tmp: Path(f"{root}/exports/../svit.duckdb"),
        "llava",
        "is the warehouse's database {root}/svit.duckdb",
    ),
    (
        "a link elsewhere to the database",
        lambda root, tmp: _link(tmp / "elsewhere.json", root / "svit.duckdb"),
        "llava",
        "is the warehouse's database {root}/svit.duckdb",
    ),
    (
        "a file through a linked folder",
        lambda root, tmp: _link(tmp / "tables", root / "turns") / a_table_file(root).relative_to(root / "turns"),
        "messages",
        "is table data of the warehouse {root} (it resolves to {root}/.snapshots/",
    ),
    (
        "a link in exports/ to a table file",
        lambda root, tmp: _link(root / "exports" / "link.json", a_table_file(root)),
        "llava",
        "is table data of the warehouse {root} (it resolves to {root}/.snapshots/",
    ),
]


@pytest.mark.parametrize("case, out_of, fmt, says", REFUSED, ids=[r[0] for r in REFUSED])
def test_an_output_inside_the_warehouse_is_refused_before_anything_is_written(
    guarded, tmp_path, monkeypatch, case, out_of, fmt, says
):
    root = guarded.root
    (root / "exports").mkdir(exist_ok=True)
    out = out_of(root, tmp_path)
    before = warehouse_contents(root)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where DuckDB's spill folder would go
    try:
        with pytest.raises(SvitError) as info:
            export(guarded, "llava_svit_all", out, fmt, progress=False)
    finally:
        if out.is_symlink() and out.parent == root / "exports":
            out.unlink()
            before.pop(str(out.relative_to(root)))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"--out {os.path.abspath(out)} {says.format(root=root)}")
    assert message.endswith(f"; write exports outside it or into {root}/exports/")
    assert warehouse_contents(root) == before
    assert list(temp.iterdir()) == []  # refused before DuckDB was started
    [(records,)] = query(guarded, "select count(*) from llava_svit_all")
    assert records > 0


def test_exports_folder_of_the_warehouse_is_allowed(guarded):
    out = guarded.root / "exports" / "core.json"
    result = export(guarded, "svit_core_150k", out, progress=False)
    assert result.out == out and len(json.loads(out.read_text())) == result.records > 0
    out.unlink()


def test_cli_refuses_an_output_inside_the_warehouse_in_one_line(guarded):
    database = guarded.duckdb_path
    before = database.read_bytes()
    proc = svit_cli(
        "export", "llava_svit_all", "--out", str(database), "--warehouse", str(guarded.root), "--no-progress"
    )
    assert one_line_error(proc) == (
        f"svit: --out {database} is the warehouse's database {database}; "
        f"write exports outside it or into {guarded.root}/exports/"
    )
    assert database.read_bytes() == before
