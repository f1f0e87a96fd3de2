"""Zips and svit.json as inputs, reruns that skip unchanged files, and atomic snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ingest.pipeline import run_ingest
from svit.core.warehouse import Warehouse
from synth.corpus import generate_corpus
from tests.helpers import count, table

CONTENT_TABLES = ("images", "conversations", "turns", "boxes", "llava_records", "llava_turns", "vg_objects", "rejects")


def _contents(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {name: sorted(tuple(map(str, r.values())) for r in table(warehouse, name)) for name in CONTENT_TABLES}


def _snapshot_files(warehouse: Warehouse) -> dict[str, str]:
    current = (warehouse.root / "current").resolve()
    return {
        str(p.relative_to(current)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(current.rglob("*"))
        if p.is_file()
    }


def test_zipped_download_gives_the_same_tables_as_json(tmp_path, corpus, ingested):
    _, truth = corpus
    zipped = tmp_path / "zipped"
    generate_corpus(zipped, images=60, seed=11, zip_data=True)
    assert not list((zipped / "data").glob("*.json"))
    warehouse = Warehouse(tmp_path / "wh")
    report = run_ingest(
        zipped,
        (zipped / "llava" / "llava_v1_5_mix665k.json", zipped / "llava" / "llava_instruct_150k.json"),
        warehouse,
        progress=False,
    )
    assert _contents(warehouse) == _contents(ingested)
    # Counted as they stream out of the zip: the typed read is proven there too.
    assert {f.name: f.reader for f in report.files if f.reader and f.kind != "llava"} == {
        f"{t}.json": "typed" for t in truth["blocks_per_task"]
    }
    paths = {r["source_file"] for r in table(warehouse, "conversations")}
    assert paths == {"conversation.json", "complex_reasoning.json", "detail_description.json", "referring_qa.json"}


def test_svit_json_alone_is_read_with_tasks_inferred(tmp_path, corpus):
    corpus_dir, truth = corpus
    source = tmp_path / "src"
    (source / "data").mkdir(parents=True)
    combined = {}
    for task in ("conversation", "complex_reasoning", "detail_description", "referring_qa"):
        for item in json.loads((corpus_dir / "data" / f"{task}.json").read_text()):
            combined.setdefault(item["image_id"], []).extend(item["conversations"])
    (source / "data" / "svit.json").write_text(
        json.dumps([{"image_id": k, "conversations": v} for k, v in combined.items()])
    )
    shutil.copytree(corpus_dir / "raw", source / "raw")
    warehouse = Warehouse(tmp_path / "wh")
    report = run_ingest(source, (), warehouse, progress=False)
    assert [f.reader for f in report.files if f.name == "svit.json"] == ["typed"]
    for task, blocks in truth["blocks_per_task"].items():
        assert count(warehouse, "conversations", f"task = '{task}'") == blocks, task
        assert count(warehouse, "turns", f"task = '{task}'") == truth["turns_per_task"][task], task
    assert count(warehouse, "boxes") == truth["boxes_total"]


def test_svit_json_is_ignored_when_the_task_files_are_there(tmp_path, corpus):
    corpus_dir, truth = corpus
    source = tmp_path / "src"
    shutil.copytree(corpus_dir / "data", source / "data")
    (source / "data" / "svit.json").write_text("[not even json")
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False, check_image_ids=False)
    assert count(warehouse, "conversations") == sum(truth["blocks_per_task"].values())


def test_rerun_on_the_same_input_is_up_to_date_and_changes_nothing(tmp_path, corpus):
    corpus_dir, _ = corpus
    warehouse = Warehouse(tmp_path / "wh")
    first = run_ingest(corpus_dir, (), warehouse, progress=False)
    before = _snapshot_files(warehouse)
    again = run_ingest(corpus_dir, (), warehouse, progress=False)
    assert again.up_to_date and again.run_id == first.run_id
    assert _snapshot_files(warehouse) == before


def test_changed_file_is_read_again_and_the_others_reused(tmp_path, corpus):
    corpus_dir, _ = corpus
    source = tmp_path / "src"
    shutil.copytree(corpus_dir, source)
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    items = json.loads((source / "data" / "detail_description.json").read_text())
    (source / "data" / "detail_description.json").write_text(json.dumps(items[:-1]))
    report = run_ingest(source, (), warehouse, progress=False)
    status = {f.name: f.status for f in report.files}
    assert status["detail_description.json"] == "ingested"
    assert status["conversation.json"] == status["referring_qa.json"] == status["objects.json"] == "unchanged"
    fresh = Warehouse(tmp_path / "fresh")
    run_ingest(source, (), fresh, progress=False)
    assert _contents(warehouse) == _contents(fresh)
    assert count(warehouse, "conversations", "task = 'detail_description'") == len(items) - 1
    manifest = {r["name"]: r for r in table(warehouse, "manifest")}
    assert manifest["conversation.json"]["status"] == "unchanged"


def test_killed_ingest_leaves_the_previous_warehouse_readable_and_unchanged(tmp_path, corpus):
    corpus_dir, _ = corpus
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(corpus_dir, (), warehouse, progress=False)
    before = _snapshot_files(warehouse)
    rows_before = count(warehouse, "turns")

    bigger = tmp_path / "bigger"
    generate_corpus(bigger, images=1500, seed=3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "svit.cli", "ingest", str(bigger), "--warehouse", str(warehouse.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    snapshots = warehouse.root / ".snapshots"
    deadline = time.monotonic() + 60
    # Kill as soon as the new snapshot has started receiving table files.
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.suffix == ".parquet" for d in snapshots.glob("*.partial") for p in d.rglob("*")):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "ingest finished before it could be killed; make the corpus bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    assert _snapshot_files(warehouse) == before
    assert count(warehouse, "turns") == rows_before
    # The next run clears the unfinished snapshot and publishes.
    run_ingest(bigger, (), warehouse, progress=False)
    assert not list(snapshots.glob("*.partial"))
    assert count(warehouse, "turns") > rows_before
    assert [p.name for p in snapshots.iterdir()] == [Path(os.readlink(warehouse.root / "current")).name]


def test_every_table_exists_even_without_its_input(tmp_path, corpus):
    corpus_dir, _ = corpus
    source = tmp_path / "src"
    shutil.copytree(corpus_dir / "data", source / "data")
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False, check_image_ids=False)
    for name in ("images", "llava_records", "llava_turns", "vg_objects", "vg_regions", "coco_captions", "rejects"):
        assert count(warehouse, name) == 0, name
    # An empty partitioned table still has its partition column.
    import duckdb

    columns = (
        duckdb.connect()
        .sql(
            f"select * from read_parquet('{warehouse.root}/llava_records/**/*.parquet', "
            "hive_partitioning = true, union_by_name = true)"
        )
        .columns
    )
    assert "source" in columns
    assert count(warehouse, "turns") > 0


def test_zip_member_is_not_unpacked_to_disk(tmp_path, monkeypatch):
    """The zip member goes to DuckDB through a pipe: no JSON file appears anywhere under tmp."""
    source = tmp_path / "src"
    generate_corpus(source, images=20, seed=5, zip_data=True)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    seen: list[str] = []
    original = zipfile.ZipFile.extract
    monkeypatch.setattr(zipfile.ZipFile, "extract", lambda *a, **k: seen.append("extract") or original(*a, **k))
    run_ingest(source, (), Warehouse(tmp_path / "wh"), progress=False)
    assert not seen
    assert not [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
