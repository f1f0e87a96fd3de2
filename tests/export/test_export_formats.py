"""`svit export --format messages|parquet`: the shapes trainers and `datasets` read."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from svit.export import export
from tests.helpers import LLAVA_MIX665K, llava_records_of_file


def _image_parts(text: str) -> list[dict]:
    """The content parts a LLaVA turn text should become (independent of the SQL)."""
    pieces = text.split("<image>")
    parts: list[dict] = []
    for i, piece in enumerate(pieces):
        if i > 0:
            parts.append({"type": "image"})
            piece = piece[1:] if piece.startswith("\n") else piece
        if i < len(pieces) - 1 and piece.endswith("\n"):
            piece = piece[:-1]
        if piece or len(pieces) == 1:
            parts.append({"type": "text", "text": piece})
    return parts


def test_messages_shape(built_sample, tmp_path):
    out = tmp_path / "mix.messages.jsonl"
    export(built_sample, "llava_v1_5_mix665k", out, "messages", progress=False)
    source = llava_records_of_file(LLAVA_MIX665K)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(source)
    roles = {"human": "user", "gpt": "assistant"}
    for rec, src in zip(records, source, strict=True):
        assert list(rec) == ["id", "images", "messages"]
        assert rec["id"] == src["id"]  # the JSON type kept
        assert rec["images"] == ([src["image"]] if "image" in src else [])
        assert [m["role"] for m in rec["messages"]] == [roles[t["from"]] for t in src["conversations"]]
        assert [m["content"] for m in rec["messages"]] == [_image_parts(t["value"]) for t in src["conversations"]]
        assert all("<image>" not in p.get("text", "") for m in rec["messages"] for p in m["content"])
        n_images = sum(p["type"] == "image" for m in rec["messages"] for p in m["content"])
        assert n_images == len(rec["images"])
    first = next(r for r in records if r["images"])
    assert first["messages"][0]["content"][0] == {"type": "image"}  # <image>\n at the start: image first
    after = [r for r in records if r["images"] and r["messages"][0]["content"][-1] == {"type": "image"}]
    assert after  # "...?\n<image>": the image part after the text


def test_parquet_shards_and_card(built_sample, tmp_path):
    out = tmp_path / "mix_parquet"
    result = export(built_sample, "llava_v1_5_mix665k", out, "parquet", progress=False)
    shards = sorted(out.glob("*.parquet"))
    assert [p.name for p in shards] == ["train-00000-of-00001.parquet"]
    table = pq.read_table(shards[0])
    assert table.schema.equals(
        pa.schema(
            [
                ("id", pa.string()),
                ("id_is_int", pa.bool_()),
                ("image", pa.string()),
                ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
                ("extra", pa.string()),
            ]
        ),
        check_metadata=False,
    )
    source = llava_records_of_file(LLAVA_MIX665K)
    rows = table.to_pylist()
    assert result.records == len(rows) == len(source)
    for row, src in zip(rows, source, strict=True):
        assert (int(row["id"]) if row["id_is_int"] else row["id"]) == src["id"]
        assert row["image"] == src.get("image")
        assert row["conversations"] == src["conversations"]
        extra = {k: v for k, v in src.items() if k not in ("id", "image", "conversations")}
        assert (json.loads(row["extra"]) if row["extra"] else {}) == extra
    card = (out / "README.md").read_text()
    assert "dataset_info:" in card and "- name: id_is_int" in card and f"num_examples: {len(source)}" in card
    assert 'path: "train-*.parquet"' in card
    assert not list(tmp_path.glob(".*partial*"))


def test_parquet_refuses_a_folder_with_files(built_sample, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    from svit.core.errors import SvitError

    with pytest.raises(SvitError, match="holds files that are not an export"):
        export(built_sample, "svit_core_150k", tmp_path, "parquet", progress=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"
