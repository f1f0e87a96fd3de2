"""`svit export --format llava|jsonl`: json.load equality, byte identity, order, quirks."""

from __future__ import annotations

import json
from collections import Counter

import duckdb
import pytest

import svit.export.writer as export_module
from svit.cli import BUNDLED_SAMPLE
from svit.export import Layout, export
from svit.export.writer import _fix_bytes, record_sql
from tests.helpers import LLAVA_MIX665K, OFFICIAL, TRICKY_TEXTS, llava_records_of_file, tricky_records


def _render(records: list[dict], layout: Layout, turn_extras: bool = True) -> bytes:
    """Records rendered by the export SQL, assembled as the exporter does.

    Without turn_extras, turns are {from, value} structs (as in the marts) and the list is
    rendered in one piece; the records must then have no turn extras.
    """
    con = duckdb.connect()
    con.create_function("svit_extra_members", layout.members, ["VARCHAR", "INTEGER"], "VARCHAR")
    rows = []
    for i, r in enumerate(records):
        extra = {k: v for k, v in r.items() if k not in ("id", "image", "conversations")}
        turns = [
            {
                "from": t["from"],
                "value": t["value"],
                "extra": json.dumps({k: v for k, v in t.items() if k not in ("from", "value")}) if len(t) > 2 else None,
            }
            for t in r["conversations"]
        ]
        rows.append(
            (
                json.dumps(r["id"], ensure_ascii=False),
                "image" in r,
                r.get("image"),
                json.dumps(extra) if extra else None,
                turns,
                i,
            )
        )
    turn_type = 'struct("from" varchar, "value" varchar' + (", extra varchar)" if turn_extras else ")")
    if not turn_extras:
        assert all(t["extra"] is None for row in rows for t in row[4])
        rows = [row[:4] + ([{"from": t["from"], "value": t["value"]} for t in row[4]],) + row[5:] for row in rows]
    con.execute(
        "create table recs (id_text varchar, has_image boolean, image varchar, extra varchar, "
        f"turns {turn_type}[], ord bigint)"
    )
    con.executemany("insert into recs values (?, ?, ?, ?, ?, ?)", rows)
    prefix = "," + layout.open(1) if layout.indent is not None else ", "
    texts = con.execute(f"select {record_sql(layout, prefix, True, turn_extras)} from recs order by ord").fetchall()
    body = _fix_bytes("".join(t for (t,) in texts).encode(), layout.ensure_ascii)
    return b"[" + layout.open(1).encode() + bytes(body)[len(prefix) :] + (layout.close(0) + "]").encode()


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_rendering_matches_json_dumps_on_awkward_values(indent, ensure_ascii):
    records = tricky_records()
    got = _render(records, Layout(indent, ensure_ascii))
    assert got == json.dumps(records, indent=indent, ensure_ascii=ensure_ascii).encode()


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_whole_list_rendering_matches_json_dumps_on_awkward_values(indent, ensure_ascii):
    records = tricky_records()
    for r in records:
        r["conversations"] = [{"from": t["from"], "value": t["value"]} for t in r["conversations"]]
    records.append({"id": "no_turns", "image": "x.jpg", "conversations": []})
    records.append({"id": "one_turn", "conversations": [{"from": "human", "value": "}]"}]})
    got = _render(records, Layout(indent, ensure_ascii), turn_extras=False)
    assert got == json.dumps(records, indent=indent, ensure_ascii=ensure_ascii).encode()


def test_a_record_with_a_null_id_or_image_renders_as_null():
    # The pieces are joined by concat(), which skips NULLs: the writer relies on NULL here
    # to stop instead of writing `"id": ,`.
    con = duckdb.connect()
    rows = con.execute(
        f"select {record_sql(Layout(None), ', ', False, False)} from (values "
        "(null, false, null, [{'from': 'human', 'value': 'q'}]), "
        "('1', true, null, [{'from': 'human', 'value': 'q'}]), "
        "('1', false, null, [{'from': 'human', 'value': 'q'}])) t(id_text, has_image, image, turns)"
    ).fetchall()
    assert rows == [(None,), (None,), (', {"id": 1, "conversations": [{"from": "human", "value": "q"}]}',)]


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
def test_control_character_escapes_fixed_in_the_batches_that_hold_them(tricky, tmp_path, monkeypatch, indent):
    # One record per batch: DuckDB flags the batches whose text holds `\u00`, and only those
    # are rewritten; record 1 holds every control character, record 0 the text `\u001F`.
    monkeypatch.setattr(export_module, "BATCH_ROWS", 1)
    warehouse, _ = tricky
    out = tmp_path / "tricky.json"
    export(warehouse, "tricky_values", out, indent=indent, progress=False)
    expected = json.dumps(tricky_records(), indent=indent, ensure_ascii=False).encode()
    assert b"\\u001f" in expected  # json.dumps's lower-case hex, where DuckDB writes upper-case
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
