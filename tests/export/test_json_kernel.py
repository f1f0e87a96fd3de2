"""svit/export/json_kernel.py: the compiled rendering writes what json.dumps writes, byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import svit.export.writer as export_module
from svit.export import Layout, export
from svit.export.json_kernel import RecordText, render_batch
from tests.helpers import TRICKY_TEXTS, tricky_records, warehouse_of

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
# Long enough that the 64-byte chunks meet escapes at their edges and clean stretches between.
LONG = ("x" * 63 + '"') * 3 + "y" * 130 + "\n" + "z" * 64 + "\x01"


def plain_records() -> list[dict]:
    """The awkward texts in records without extra keys (the kind the compiled rendering takes)."""
    records = [{k: v for k, v in r.items() if k in ("id", "image", "conversations")} for r in tricky_records()]
    for r in records:
        r["conversations"] = [{"from": t["from"], "value": t["value"]} for t in r["conversations"]]
    records.append(
        {
            "id": 'odd "image"',
            "image": 'a"\\b\n.jpg',
            "conversations": [{"from": "human", "value": LONG}, {"from": "gpt", "value": LONG[::-1]}],
        }
    )
    return records


def edge_records() -> list[dict]:
    """Shapes ingest refuses but a model could still hold: no turns, a null value."""
    return plain_records() + [
        {"id": "no_turns", "image": "x.jpg", "conversations": []},
        {"id": -1, "conversations": [{"from": "human", "value": None}, {"from": None, "value": "}]"}]},
    ]


def batch_of(records: list[dict]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {
            "id_text": [json.dumps(r["id"], ensure_ascii=False) for r in records],
            "has_image": ["image" in r for r in records],
            "image": [r.get("image") for r in records],
            "turns": [r["conversations"] for r in records],
        },
        schema=pa.schema(
            [("id_text", pa.string()), ("has_image", pa.bool_()), ("image", pa.string()), ("turns", TURNS)]
        ),
    )


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
def test_records_render_as_json_dumps_writes_them(indent):
    records = edge_records()
    layout = Layout(indent)
    prefix = "," + layout.open(1) if indent is not None else ", "
    buffer, size, null_record = render_batch(batch_of(records), RecordText(layout, prefix))
    assert null_record == -1
    text = b"[" + layout.open(1).encode() + buffer[len(prefix) : size].tobytes() + (layout.close(0) + "]").encode()
    assert text == json.dumps(records, indent=indent, ensure_ascii=False).encode()


def test_every_text_alone_and_a_sliced_batch():
    # Batches DuckDB hands over can be slices of larger arrays: offsets start past zero.
    records = edge_records()
    whole = batch_of(records * 2)
    text = RecordText(Layout(None), "", "\n")
    for start in range(len(records)):
        buffer, size, _ = render_batch(whole.slice(start, len(records)), text)
        expected = "".join(
            json.dumps(r, ensure_ascii=False) + "\n" for r in (records * 2)[start : start + len(records)]
        )
        assert buffer[:size].tobytes() == expected.encode()
    for t in TRICKY_TEXTS:
        buffer, size, _ = render_batch(batch_of([{"id": 1, "conversations": [{"from": "gpt", "value": t}]}]), text)
        assert (
            buffer[:size].tobytes().decode()
            == json.dumps({"id": 1, "conversations": [{"from": "gpt", "value": t}]}, ensure_ascii=False) + "\n"
        )


def test_turn_fields_are_found_by_name():
    records = plain_records()
    batch = batch_of(records)
    swapped_type = pa.list_(pa.struct([("value", pa.string()), ("from", pa.string())]))
    swapped = batch.set_column(
        3,
        "turns",
        pa.array(
            [[{"value": t["value"], "from": t["from"]} for t in r["conversations"]] for r in records], swapped_type
        ),
    )
    text = RecordText(Layout(None), "")
    assert render_batch(swapped, text)[0].tobytes() == render_batch(batch, text)[0].tobytes()


def test_a_null_id_or_a_missing_image_is_reported_not_written():
    text = RecordText(Layout(None), ", ")
    batch = batch_of([{"id": 1, "conversations": []}, {"id": 2, "image": "a.jpg", "conversations": []}])
    buffer, size, null_record = render_batch(batch, text)
    assert null_record == -1 and buffer[:size].tobytes().startswith(b', {"id": 1, "conversations": []}')
    no_id = batch.set_column(0, "id_text", pa.array(["1", None], pa.string()))
    assert render_batch(no_id, text)[1:] == (0, 1)
    no_image = batch.set_column(2, "image", pa.array([None, None], pa.string()))
    assert render_batch(no_image, text)[1:] == (0, 1)


def test_a_buffer_large_enough_is_written_into_and_a_small_one_replaced():
    text = RecordText(Layout(None), "", "\n")
    batch = batch_of(plain_records())
    expected = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in plain_records()).encode()
    large = np.zeros(len(expected) + 100, np.uint8)
    buffer, size, _ = render_batch(batch, text, large)
    assert buffer is large and buffer[:size].tobytes() == expected
    small = np.zeros(10, np.uint8)
    buffer, size, _ = render_batch(batch, text, small)
    assert buffer is not small and len(buffer) == size and buffer.tobytes() == expected


@pytest.fixture(scope="module")
def plain_warehouse(tmp_path_factory):
    return warehouse_of(tmp_path_factory, "Plain-Values.json", plain_records())


@pytest.mark.parametrize(("fmt", "indent"), [("llava", None), ("llava", 2), ("llava", 4), ("jsonl", None)])
def test_export_through_the_kernel_equals_json_dumps_and_the_sql_rendering(
    plain_warehouse, tmp_path, monkeypatch, fmt, indent
):
    warehouse, path = plain_warehouse
    records = plain_records()
    expected = (
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if fmt == "jsonl"
        else json.dumps(records, indent=indent, ensure_ascii=False)
    ).encode()
    monkeypatch.setattr(export_module, "BATCH_ROWS", 3)  # several batches, rendered two at a time
    used = []
    real = export_module._plan
    monkeypatch.setattr(export_module, "_plan", lambda *a: used.append(real(*a).kernel is not None) or real(*a))
    for kernel in (True, False):
        monkeypatch.setattr(export_module, "USE_KERNEL", kernel)
        out = tmp_path / f"{kernel}.json"
        export(warehouse, "plain_values", out, fmt, indent=indent, progress=False)
        assert out.read_bytes() == expected
    assert used == [True, False]
    if indent == 2:
        assert (tmp_path / "True.json").read_bytes() == path.read_bytes()


def test_one_compiled_version_serves_every_batch():
    # numba compiles (~3 s) and caches one version per argument types, read-only included:
    # batches from DuckDB (read-only buffers), from Python, and with an empty buffer (no
    # image at all) must all use the version `make` compiled.
    import duckdb

    from svit.export.json_kernel import _render, warm_up

    warm_up()
    text = RecordText(Layout(None), "")
    from_duckdb = (
        duckdb.sql(
            "select '1' as id_text, false as has_image, null::varchar as image, "
            "[{'from': 'human', 'value': 'q'}] as turns"
        )
        .to_arrow_table()
        .to_batches()[0]
    )
    for batch in (batch_of(plain_records()), from_duckdb, batch_of([{"id": 1, "conversations": []}])):
        assert render_batch(batch, text)[2] == -1
    assert len(_render.signatures) == 1
