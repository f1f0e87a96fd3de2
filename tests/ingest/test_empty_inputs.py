"""An input with no records (0 bytes, `[]`, `{}` for a COCO file) ingests as zero records:
no failure, no rejects, its tables present and empty."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ingest.empty_input import SMALL_BYTES, is_empty_json
from ingest.pipeline import run_ingest
from ingest.sources import COCO_CAPTIONS, LLAVA, SVIT_TASK, VG_IMAGE_DATA, InputFile
from svit.core.warehouse import Warehouse
from tests.helpers import count, qa, table, vg_image, write_corpus

# kind -> where its file goes in a download (None: passed with --llava) and the tables it feeds
KINDS = {
    "svit_task": ("data/conversation.json", ["turns", "conversations", "boxes"]),
    "svit_zip": ("data/referring_qa.zip", ["turns", "conversations", "boxes"]),
    "svit_all": ("data/svit.json", ["turns", "conversations", "boxes"]),
    "llava": ("format/llava-v1.5/svit_mix.json", ["llava_records", "llava_turns"]),
    "llava_extra": (None, ["llava_records", "llava_turns"]),
    "vg_image_data": ("raw/annotations/vg/image_data.json", ["images"]),
    "vg_objects": ("raw/annotations/vg/objects.json", ["vg_objects"]),
    "vg_regions": ("raw/annotations/vg/region_descriptions.json", ["vg_regions"]),
    "coco": ("raw/annotations/coco/captions_val2017.json", ["coco_captions"]),
}
EMPTY = {"0 bytes": b"", "[]": b"[]", "[] with whitespace": b" \n[ ]\n\t"}


def _download(tmp_path: Path, kind: str, content: bytes) -> tuple[Path, tuple[Path, ...], str]:
    """A download holding the one input (and image_data.json beside SVIT files, which are
    checked against it); the input's name as the manifest has it."""
    source = tmp_path / "src"
    source.mkdir()
    where, _ = KINDS[kind]
    if kind.startswith("svit"):
        write_corpus(source, {}, [vg_image(1)])
    if where is None:
        extra = tmp_path / "mine.json"
        extra.write_bytes(content)
        return source, (extra,), extra.name
    target = source / where
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("referring_qa/referring_qa.json", content)
        return source, (), "referring_qa.json"
    target.write_bytes(content)
    return source, (), target.name


def _ingest_empty(tmp_path: Path, kind: str, content: bytes) -> Warehouse:
    source, extra, name = _download(tmp_path, kind, content)
    warehouse = Warehouse(tmp_path / "wh")
    report = run_ingest(source, extra, warehouse, progress=False)
    [file] = [f for f in report.files if f.name == name]
    assert (file.records_read, file.records_written, file.records_rejected) == (0, 0, 0)
    [manifest] = table(warehouse, "manifest", f"name = '{name}'")
    assert (manifest["records_read"], manifest["records_written"], manifest["records_rejected"]) == (0, 0, 0)
    return warehouse


@pytest.mark.parametrize("content", EMPTY.values(), ids=EMPTY.keys())
@pytest.mark.parametrize("kind", KINDS)
def test_an_input_with_no_records_ingests_as_zero_rows(tmp_path, kind, content):
    warehouse = _ingest_empty(tmp_path, kind, content)
    for name in KINDS[kind][1] + ["rejects"]:
        assert count(warehouse, name) == 0, name


def test_a_coco_file_holding_an_empty_object_ingests_as_zero_rows(tmp_path):
    warehouse = _ingest_empty(tmp_path, "coco", b"{}\n")
    assert count(warehouse, "coco_captions") == 0


def test_an_empty_svit_file_beside_a_full_one(tmp_path):
    items = [{"image_id": 1, "conversations": [{"content": qa("q", "a")}]}]
    source = write_corpus(tmp_path / "src", {"conversation": [], "complex_reasoning": items}, [vg_image(1)])
    report = run_ingest(source, (), Warehouse(tmp_path / "wh"), progress=False)
    counts = {f.name: (f.records_read, f.records_written, f.records_rejected) for f in report.files}
    assert counts == {"conversation.json": (0, 0, 0), "complex_reasoning.json": (1, 1, 0), "image_data.json": (1, 1, 0)}
    turns = table(Warehouse(tmp_path / "wh"), "turns", order="turn")
    assert [(t["task"], t["text"]) for t in turns] == [("complex_reasoning", "q"), ("complex_reasoning", "a")]


def test_an_svit_array_too_long_to_peek_at_still_reads_as_zero_records(tmp_path):
    """is_empty_json only reads small files; the SVIT reader copes with a larger empty array itself."""
    padded = b"[" + b" " * (2 * SMALL_BYTES) + b"]"
    warehouse = _ingest_empty(tmp_path, "svit_task", padded)
    assert count(warehouse, "turns") == count(warehouse, "conversations") == 0


def test_an_empty_input_via_the_cli_exits_0(tmp_path):
    source, _, _ = _download(tmp_path, "svit_task", b"[]")
    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "ingest", str(source), "--warehouse", str(tmp_path / "wh")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert count(Warehouse(tmp_path / "wh"), "turns") == 0


@pytest.mark.parametrize(
    "kind, content, empty",
    [
        (SVIT_TASK, b"", True),
        (SVIT_TASK, b"[]", True),
        (SVIT_TASK, b"\r\n [\n] \n", True),
        (SVIT_TASK, b"   ", True),
        (SVIT_TASK, b"{}", False),  # not an array: the reader says so
        (SVIT_TASK, b"[1]", False),
        (SVIT_TASK, b"[]x", False),
        (SVIT_TASK, b"[" + b" " * SMALL_BYTES + b"]", False),  # too long to read here
        (LLAVA, b"[]", True),
        (VG_IMAGE_DATA, b"{}", False),
        (COCO_CAPTIONS, b"{}", True),
        (COCO_CAPTIONS, b" [ ] ", True),
        (COCO_CAPTIONS, json.dumps({"images": [], "annotations": []}).encode(), False),
    ],
)
def test_is_empty_json(tmp_path, kind, content, empty):
    path = tmp_path / "input.json"
    path.write_bytes(content)
    assert is_empty_json(InputFile(kind, path, name=path.name)) is empty


@pytest.mark.parametrize("content, empty", [(b"[]", True), (b"[{}]", False)])
def test_is_empty_json_of_a_zip_member(tmp_path, content, empty):
    path = tmp_path / "conversation.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("conversation.json", content)
    assert is_empty_json(InputFile(SVIT_TASK, path, "conversation.json", "conversation", "conversation.json")) is empty
