"""`svit export --format llava|jsonl`: json.load equality, byte identity, order, quirks."""

from __future__ import annotations

import json
from collections import Counter

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import svit.export.run as export_run
from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse
from svit.export import export
from svit.export.formats import FORMATS, Options
from svit.export.formats.base import Batch, Problems, to_ascii
from svit.export.output import text_buffers
from tests.helpers import LLAVA_MIX665K, OFFICIAL, TRICKY_TEXTS, llava_records_of_file, tricky_records

TURN = pl.Struct({"from": pl.String, "value": pl.String, "extra": pl.String})


def _frame(records: list[dict], turn_extras: bool) -> pl.DataFrame:
    """Records as the export's query gives them (svit/export/records.py)."""
    rows = []
    for r in records:
        extra = {k: v for k, v in r.items() if k not in ("id", "image", "conversations")}
        turns = []
        for t in r["conversations"]:
            more = {k: v for k, v in t.items() if k not in ("from", "value")}
            turns.append({"from": t["from"], "value": t["value"], "extra": json.dumps(more) if more else None})
        rows.append(
            {
                "id": str(r["id"]),
                "id_json": json.dumps(r["id"], ensure_ascii=False),
                "has_image": "image" in r,
                "image": r.get("image"),
                "extra": json.dumps(extra) if extra else None,
                "media": None,
                "conversations": turns,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            **dict.fromkeys(("id", "id_json"), pl.String),
            "has_image": pl.Boolean,
            "image": pl.String,
            "extra": pl.String,
            "media": pl.String,
            "conversations": pl.List(TURN),
        },
    )
    if not turn_extras:
        turn = pl.struct(pl.element().struct.field("from"), pl.element().struct.field("value"))
        frame = frame.with_columns(pl.col("conversations").list.eval(turn))
    return frame


def _render(records: list[dict], indent, ensure_ascii: bool, python: bool, batch_rows: int = 3) -> bytes:
    """The llava file of `records` as the writer assembles it: head, each batch's text (the
    first separator dropped), tail."""
    form, options = FORMATS["llava"], Options(indent, ensure_ascii)
    container = form.container(options, None)
    frame = _frame(records, turn_extras=python)
    body = b""
    for start in range(0, len(records), batch_rows):
        text = form.render(Batch(frame.slice(start, batch_rows), options, container.sep, python), Problems())
        body += b"".join(bytes(memoryview(b).cast("B")) for b in text_buffers(text)[1])
    body = body[len(container.sep.encode()) :]
    if ensure_ascii:
        body = to_ascii(body)
    return container.head.encode() + body + container.tail.encode()


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_python_rendering_matches_json_dumps_on_awkward_values(indent, ensure_ascii):
    # Records with extra keys (of records and of turns) are written by json.dumps itself.
    records = tricky_records()
    assert (
        _render(records, indent, ensure_ascii, python=True)
        == json.dumps(records, indent=indent, ensure_ascii=ensure_ascii).encode()
    )


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_polars_rendering_matches_json_dumps_on_awkward_values(indent, ensure_ascii):
    records = [{k: v for k, v in r.items() if k in ("id", "image", "conversations")} for r in tricky_records()]
    for r in records:
        r["conversations"] = [{"from": t["from"], "value": t["value"]} for t in r["conversations"]]
    records.append({"id": "no_turns", "image": "x.jpg", "conversations": []})
    records.append({"id": "no_turns_no_image", "conversations": []})
    records.append({"id": "one_turn", "conversations": [{"from": "human", "value": "}]"}]})
    records.append(
        {"id": 'a","image":null,"conversations":[]}', "conversations": [{"from": '","value":', "value": '},{"from":'}]}
    )
    records.append(
        {"id": 7, "image": 'i","conversations":[{"from":', "conversations": [{"from": "gpt", "value": "\\"}]}
    )
    assert any(isinstance(r["id"], int) for r in records)  # the id put in front of the body
    got = _render(records, indent, ensure_ascii, python=False)
    assert got == json.dumps(records, indent=indent, ensure_ascii=ensure_ascii).encode()
    only_strings = [r for r in records if isinstance(r["id"], str)]  # the id encoded with the rest
    got = _render(only_strings, indent, ensure_ascii, python=False, batch_rows=len(only_strings))
    assert got == json.dumps(only_strings, indent=indent, ensure_ascii=ensure_ascii).encode()


def test_a_record_with_a_null_id_or_image_stops_the_export():
    for row in ({"id": None, "has_image": False, "image": None}, {"id": "1", "has_image": True, "image": None}):
        batch = pa.RecordBatch.from_pylist([{**row, "ord": 0}])
        with pytest.raises(SvitError, match="null"):
            export_run._frame(batch, None)


def test_mix665k_round_trip_is_json_equal_and_byte_identical(built_sample, tmp_path):
    out = tmp_path / "mix.json"
    result = export(built_sample, "llava_v1_5_mix665k", out, "llava", indent=2, progress=False)
    source = llava_records_of_file(LLAVA_MIX665K)
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert result.records == len(source)
    assert exported == source
    assert out.read_bytes() == LLAVA_MIX665K.read_bytes()  # the file was written with indent=2, UTF-8


def test_mix665k_quirks_survive(built_sample, tmp_path):
    out = tmp_path / "mix.json"
    export(built_sample, "llava_v1_5_mix665k", out, progress=False)
    records = json.loads(out.read_text(encoding="utf-8"))
    ids = Counter(json.dumps(r["id"]) for r in records)
    assert any(isinstance(r["id"], int) for r in records) and any(isinstance(r["id"], str) for r in records)
    assert max(ids.values()) > 1  # repeated ids kept
    text_only = [r for r in records if "image" not in r]
    assert text_only and all(r.get("model") == "" for r in text_only)
    assert b'"image": null' not in out.read_bytes()
    assert all(list(r) == ["id", "model", "conversations"] for r in text_only)
    assert any(r["conversations"][0]["value"].endswith("\n<image>") for r in records)
    assert any(not t["value"].isascii() for r in records for t in r["conversations"])


@pytest.mark.parametrize(
    ("model", "path", "indent"),
    [
        ("svit_core_150k", OFFICIAL / "SVIT_core_150K.json", 4),
        ("svit_mix_665k", OFFICIAL / "SVIT_mix_665K.json", 4),
        ("llava_instruct_150k", BUNDLED_SAMPLE / "llava" / "llava_instruct_150k.json", 2),
    ],
)
def test_export_reproduces_source_bytes(built_sample, tmp_path, model, path, indent):
    out = tmp_path / f"{model}.json"
    export(built_sample, model, out, indent=indent, progress=False)
    assert out.read_bytes() == path.read_bytes()


def test_default_and_ascii_layouts_match_json_dump(built_sample, tmp_path):
    source = llava_records_of_file(LLAVA_MIX665K)
    for kwargs, expected in [
        ({}, json.dumps(source, ensure_ascii=False)),
        ({"indent": 4, "ensure_ascii": True}, json.dumps(source, indent=4)),
    ]:
        out = tmp_path / "mix.json"
        export(built_sample, "llava_v1_5_mix665k", out, progress=False, **kwargs)
        assert out.read_bytes() == expected.encode()


def test_awkward_values_round_trip_through_the_warehouse(tricky, tmp_path):
    warehouse, path = tricky
    out = tmp_path / "tricky.json"
    export(warehouse, "tricky_values", out, indent=2, progress=False)
    assert json.loads(out.read_text(encoding="utf-8")) == tricky_records()
    assert out.read_bytes() == path.read_bytes()
    lines = tmp_path / "tricky.jsonl"
    export(warehouse, "tricky_values", lines, "jsonl", ensure_ascii=True, progress=False)
    assert lines.read_bytes() == "".join(json.dumps(r) + "\n" for r in tricky_records()).encode()
    assert len(TRICKY_TEXTS) == len(lines.read_text().splitlines())


@pytest.mark.parametrize("indent", [None, 2])
def test_control_characters_escaped_as_json_dumps_escapes_them(tricky, tmp_path, monkeypatch, indent):
    # One record per batch; record 1 holds every control character, record 0 the text `\u001F`.
    monkeypatch.setattr(export_run, "BATCH_ROWS", 1)
    warehouse, _ = tricky
    out = tmp_path / "tricky.json"
    export(warehouse, "tricky_values", out, indent=indent, progress=False)
    expected = json.dumps(tricky_records(), indent=indent, ensure_ascii=False).encode()
    assert b"\\u001f" in expected  # json.dumps's lower-case hex
    assert out.read_bytes() == expected


def test_jsonl_round_trip(built_sample, tmp_path):
    out = tmp_path / "mix.jsonl"
    export(built_sample, "llava_v1_5_mix665k", out, "jsonl", progress=False)
    source = llava_records_of_file(LLAVA_MIX665K)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == source
    assert lines[0] == json.dumps(source[0], ensure_ascii=False)


@pytest.mark.parametrize("model", ["llava_svit_all", "llava_svit_referring_qa"])
def test_svit_models_export_their_rows_in_record_order(built_sample, tmp_path, model):
    out = tmp_path / f"{model}.json"
    export(built_sample, model, out, progress=False)
    con = duckdb.connect(str(built_sample.duckdb_path), read_only=True)
    try:
        rows = con.execute(f"select id, image, conversations from {model} order by record_order").fetchall()
    finally:
        con.close()
    expected = [{"id": i, "image": img, "conversations": conv} for i, img, conv in rows]
    assert json.loads(out.read_text(encoding="utf-8")) == expected
    assert out.read_bytes() == json.dumps(expected, ensure_ascii=False).encode()


@pytest.mark.parametrize("fmt", ["llava"])
def test_an_export_reads_back_through_svit_ingest(built_sample, tmp_path, fmt):
    # A model's export, ingested as a LLaVA file into a new warehouse and exported again,
    # is the same file: nothing of a record is lost on the way out.
    first = tmp_path / "out" / "llava_svit_all.json"
    first.parent.mkdir()
    export(built_sample, "llava_svit_all", first, fmt, progress=False)
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(first.parent, (first,), warehouse, progress=False)
    again = tmp_path / "again.json"
    result = export(warehouse, "llava_svit_all", again, fmt, progress=False)
    assert result.records == len(json.loads(first.read_text(encoding="utf-8"))) > 0
    assert again.read_bytes() == first.read_bytes()
