"""`svit export` options that do not apply to the format, and --out that cannot be written,
are one-line errors through the CLI, before anything is written."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import svit.export.formats.parquet as parquet_format
import svit.export.run as export_run
from svit.export import export
from tests.helpers import LLAVA_MIX665K, file_hashes, llava_records_of_file, one_line_error, svit_cli

# (format, the option and its value): the option does not apply to the format
NOT_APPLYING = [
    *[(fmt, ["--indent", "2"]) for fmt in ("jsonl", "messages", "sharegpt", "internvl", "qwen", "parquet")],
    ("jsonl", ["--indent", "0"]),
    ("parquet", ["--ascii"]),
    *[(fmt, ["--dataset-name", "core"]) for fmt in ("llava", "jsonl", "messages", "qwen", "parquet")],
    *[(fmt, ["--image-root", "/data"]) for fmt in ("llava", "jsonl", "messages", "sharegpt", "qwen", "parquet")],
]


def _out(folder, fmt):
    return folder / ("out" if fmt == "parquet" else "out.jsonl")


@pytest.mark.parametrize("fmt, option", NOT_APPLYING, ids=[f"{f}{o[0]}" for f, o in NOT_APPLYING])
def test_an_option_that_does_not_apply_is_a_one_line_error(built_sample, tmp_path, fmt, option):
    proc = svit_cli(
        "export",
        "svit_core_150k",
        "--out",
        str(_out(tmp_path, fmt)),
        "--format",
        fmt,
        *option,
        "--warehouse",
        str(built_sample.root),
        "--no-progress",
    )
    assert one_line_error(proc) == f"svit: {option[0]} does not apply to --format {fmt}"
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt, option", [("sharegpt", ["--indent", "2"]), ("llava", ["--image-root", "/data"])])
def test_mix_refuses_an_option_that_does_not_apply_before_building(built_sample, tmp_path, fmt, option):
    manifests = file_hashes(built_sample.root / "mixes")
    out = tmp_path / "core.json"
    proc = svit_cli(
        "mix",
        "mix_svit_core_150k",
        "--export",
        str(out),
        "--format",
        fmt,
        *option,
        "--warehouse",
        str(built_sample.root),
    )
    assert one_line_error(proc) == f"svit: {option[0]} does not apply to --format {fmt}"
    assert proc.stdout == ""  # the mix was not built
    assert list(tmp_path.iterdir()) == []
    assert file_hashes(built_sample.root / "mixes") == manifests


@pytest.mark.parametrize("fmt", ["llava", "sharegpt", "internvl", "parquet"])
def test_out_in_a_missing_folder_is_an_error_and_the_folder_is_not_created(built_sample, tmp_path, fmt):
    out = _out(tmp_path / "missing" / "deeper", fmt)
    proc = svit_cli(
        "export",
        "svit_core_150k",
        "--out",
        str(out),
        "--format",
        fmt,
        "--warehouse",
        str(built_sample.root),
        "--no-progress",
    )
    assert one_line_error(proc) == f"svit: --out {out}: the folder {out.parent} does not exist; create it first"
    assert list(tmp_path.iterdir()) == []


def test_mix_export_in_a_missing_folder_is_an_error_before_building(built_sample, tmp_path):
    out = tmp_path / "missing" / "core.json"
    proc = svit_cli("mix", "mix_svit_core_150k", "--export", str(out), "--warehouse", str(built_sample.root))
    assert one_line_error(proc) == f"svit: --out {out}: the folder {out.parent} does not exist; create it first"
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


def test_internvl_out_must_be_jsonl(built_sample, tmp_path):
    out = tmp_path / "core.json"
    proc = svit_cli(
        "export",
        "svit_core_150k",
        "--out",
        str(out),
        "--format",
        "internvl",
        "--warehouse",
        str(built_sample.root),
        "--no-progress",
    )
    assert one_line_error(proc) == (
        "svit: --format internvl writes JSON lines: give --out a .jsonl name (its trainer asks)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_text_format_refuses_a_folder_and_parquet_refuses_a_file(built_sample, tmp_path):
    folder, file = tmp_path / "folder", tmp_path / "file"
    folder.mkdir()
    file.write_text("mine")
    root = str(built_sample.root)
    proc = svit_cli("export", "svit_core_150k", "--out", str(folder), "--format", "sharegpt", "--warehouse", root)
    assert one_line_error(proc) == f"svit: --out {folder} is a directory; give a file name"
    proc = svit_cli("export", "svit_core_150k", "--out", str(file), "--format", "parquet", "--warehouse", root)
    assert one_line_error(proc) == f"svit: --out {file} is a file; parquet export writes a folder of shards"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]
    assert list(folder.iterdir()) == [] and file.read_text() == "mine"


def test_parquet_replaces_an_earlier_export_without_leftovers(built_sample, tmp_path, monkeypatch):
    out = tmp_path / "pq"
    # The first export in several shards: batches of 100 records, a shard at 20 kB of text.
    monkeypatch.setattr(export_run, "BATCH_ROWS", 100)
    monkeypatch.setattr(parquet_format, "SHARD_TEXT_BYTES", 20_000)
    first = export(built_sample, "svit_core_150k", out, "parquet", progress=False)
    shards = sorted(p.name for p in out.glob("*.parquet"))
    assert len(shards) > 1 and shards[0] == f"train-00000-of-{len(shards):05d}.parquet"
    assert first.records == 438
    monkeypatch.undo()
    second = export(built_sample, "llava_v1_5_mix665k", out, "parquet", progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "train-00000-of-00001.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["pq"]  # nothing beside it: no .partial, no .replaced
    source = llava_records_of_file(LLAVA_MIX665K)
    rows = pq.read_table(out / "train-00000-of-00001.parquet").to_pylist()
    assert second.records == len(rows) == len(source)
    assert [r["id"] for r in rows] == [str(s["id"]) for s in source]
    card = (out / "README.md").read_text()
    assert card.count("# llava_v1_5_mix665k") == 1 and f"num_examples: {len(source)}" in card
    assert "svit_core_150k" not in card


def test_parquet_into_an_empty_folder(built_sample, tmp_path):
    out = tmp_path / "pq"
    out.mkdir()
    result = export(built_sample, "svit_core_150k", out, "parquet", progress=False)
    assert result.records == 438
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "train-00000-of-00001.parquet"]


def test_parquet_refuses_a_folder_with_other_files_and_keeps_them(built_sample, tmp_path):
    out = tmp_path / "pq"
    export(built_sample, "svit_core_150k", out, "parquet", progress=False)
    (out / "notes.txt").write_text("mine")
    before = file_hashes(out)
    proc = svit_cli(
        "export",
        "llava_v1_5_mix665k",
        "--out",
        str(out),
        "--format",
        "parquet",
        "--warehouse",
        str(built_sample.root),
        "--no-progress",
    )
    assert one_line_error(proc) == (
        f"svit: --out {out} holds files that are not an export; give an empty or new folder"
    )
    assert file_hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["pq"]
    assert json.dumps(sorted(before)) == json.dumps(["README.md", "notes.txt", "train-00000-of-00001.parquet"])
