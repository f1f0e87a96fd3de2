"""The typed read of plain LLaVA-1.5 arrays (ingest/llava_typed_read.py) gives the very tables
the general reader gives, row for row and in order, or steps aside for it."""

from __future__ import annotations

import json

import duckdb
import pytest

from ingest import llava, llava_typed_read
from ingest.pipeline import run_ingest
from svit.core.warehouse import Warehouse

TABLES = ("llava_records", "llava_turns", "llava_media", "rejects")


def _qa(*values: str) -> list[dict]:
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(values)]


def _plain_records() -> list[dict]:
    """LLaVA-1.5 records as the mixes hold them: both id types, text-only records, one image with
    and without a mark, quotes, colons, backslashes and unicode in the text, and `model` (the one
    other key) first seen past the records that tell the file's shape."""
    records = []
    for i in range(260):
        record: dict = {"id": i if i % 4 == 1 else f"{i:012d}"}
        if i % 5:
            record["image"] = f"coco/train2017/{i:012d}.jpg"
        mark = "<image>\n" if i % 5 and i % 7 else ""  # every 7th with an image has no mark: implicit
        record["conversations"] = _qa(
            f'{mark}Q{i}: what is "this"?', 'A: a \\ "quoted" é 😊 thing: 1:2', "And then?", f"Turn {i}."
        )
        if i >= 230 and i % 3 == 0:
            record["model"] = "" if i % 2 else {"name": "gpt-4", "tags": ["a:b", '"q"']}
        records.append(record)
    records.append({"id": 18446744073709551615, "conversations": _qa("Big id?", "Yes.")})
    return records


def _ingest(tmp_path, name: str, records, typed: bool, monkeypatch) -> tuple[dict, list[bool]]:
    """The tables and manifest entry of `records` ingested as one LLaVA array, and what
    read_typed answered."""
    answers: list[bool] = []
    real = llava_typed_read.read_typed

    def spy(*args, **kwargs):
        answers.append(real(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(llava, "TYPED_READ", typed)
    monkeypatch.setattr(llava_typed_read, "read_typed", spy)
    source = tmp_path / f"source_{typed}"
    source.mkdir()
    path = source / name
    path.write_text(records if isinstance(records, str) else json.dumps(records, ensure_ascii=False), encoding="utf-8")
    warehouse = Warehouse(tmp_path / f"warehouse_{typed}")
    run_ingest(source, (path,), warehouse, progress=False)
    con = duckdb.connect()
    snapshot = warehouse.root / "current"
    tables = {}
    for name_ in TABLES:
        files = sorted(str(f) for f in (snapshot / name_).rglob("*.parquet"))
        # In the files' own row order; a reject's path names the run's own folder.
        rel = con.sql(f"select * {'exclude (path)' if name_ == 'rejects' else ''} from read_parquet({files})")
        tables[name_] = (rel.columns, [str(t) for t in rel.types], rel.fetchall())
    manifest = json.loads((snapshot / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["name"] == name)
    tables["manifest"] = {k: entry[k] for k in ("records_read", "records_written", "records_rejected", "notes")}
    return tables, answers


def test_plain_records_are_read_typed_into_the_same_tables(tmp_path, monkeypatch):
    records = _plain_records()
    typed, answers = _ingest(tmp_path, "mix.json", records, True, monkeypatch)
    general, _ = _ingest(tmp_path, "mix.json", records, False, monkeypatch)
    assert answers == [True]
    assert typed == general
    columns, _, rows = typed["llava_records"]
    by_index = {row[columns.index("record_index")]: dict(zip(columns, row, strict=True)) for row in rows}
    assert (by_index[1]["id"], by_index[1]["id_json"], by_index[1]["id_type"]) == ("1", "1", "integer")
    assert (by_index[0]["id"], by_index[0]["id_json"], by_index[0]["has_image"]) == (
        "000000000000",
        '"000000000000"',
        False,
    )
    assert by_index[231]["extra"] == '{"model":""}'
    assert by_index[234]["extra"] == '{"model":{"name":"gpt-4","tags":["a:b","\\"q\\""]}}'
    assert by_index[260]["id_json"] == "18446744073709551615"
    assert typed["manifest"] == {
        "records_read": 261,
        "records_written": 261,
        "records_rejected": 0,
        "notes": {llava.IMPLICIT: sum(1 for i in range(260) if i % 5 and not i % 7)},
    }
    turns_columns, _, turns = typed["llava_turns"]
    assert len(turns) == 4 * 260 + 2
    first = dict(zip(turns_columns, turns[1], strict=True))
    assert (first["record_index"], first["turn"], first["role"], first["text"]) == (
        0,
        1,
        "gpt",
        'A: a \\ "quoted" é 😊 thing: 1:2',
    )
    # Each turn's words as the statistics count them, by both readers (`typed == general`).
    words = {(row[0], row[1]): row[turns_columns.index("words")] for row in turns}
    assert (words[0, 1], words[1, 0]) == (8, 4)  # `A: a \ "quoted" ...`; `<image>` is no word
    # What the statistics read instead of the text (macros/llava_turn_measures.sql), by both
    # readers: characters as Python counts them, the hash of the text without its `<image>`
    # line, an answer's Yes / No.
    measures = {
        (row[0], row[1]): {c: row[turns_columns.index(c)] for c in ("text", "chars", "duplicate_hash", "yes_no")}
        for row in turns
    }
    assert all(m["chars"] == len(m["text"]) for m in measures.values())
    assert measures[0, 1]["chars"] == 30  # `é` and `😊` one character each
    con = duckdb.connect()
    assert measures[1, 0]["text"] == '<image>\nQ1: what is "this"?'
    assert measures[1, 0]["duplicate_hash"] == con.sql("""select hash('Q1: what is "this"?')""").fetchall()[0][0]
    assert measures[0, 0]["duplicate_hash"] == con.sql("""select hash('Q0: what is "this"?')""").fetchall()[0][0]
    assert [measures[260, 1]["yes_no"], measures[260, 0]["yes_no"], measures[0, 1]["yes_no"]] == ["yes", None, None]


def _with(record_index: int, change) -> list[dict]:
    records = _plain_records()
    change(records[record_index])
    return records


@pytest.mark.parametrize(
    "records",
    [
        # A key the typed read was not asked for, in a turn: seen in the colons.
        _with(240, lambda r: r["conversations"][0].update(weight=1)),
        # `image` written as null, a number, a list past the first records: the quotes and colons.
        _with(250, lambda r: r.update(image=None)),
        _with(250, lambda r: r.update(image=5)),
        _with(250, lambda r: r.update(image=["a.jpg", "b.jpg"])),
        # A value that is not a string: a number read as text lacks its quotes.
        _with(240, lambda r: r["conversations"][1].update(value=42)),
        # Keys DuckDB would match without case, two other keys, a video: the keys of all records.
        _with(240, lambda r: r.update(ID="x")),
        _with(240, lambda r: r.update(Model="x", model="y")),
        # Two other keys in one record: the typed read would not keep their order.
        _with(240, lambda r: r.update(model="x", source="y")),
        # More key names than the typed read asks for as columns (here inside one value).
        _with(5, lambda r: r.update(model={f"k{n}": n for n in range(20)})),
        _with(240, lambda r: r.update(video="v.mp4")),
        # A turn that is not an object, turns that do not alternate, too many marks: rejects,
        # which the general reader writes with the record's own text.
        _with(240, lambda r: r["conversations"].append("hello")),
        _with(240, lambda r: r["conversations"].__setitem__(0, {"from": "gpt", "value": "x"})),
        _with(240, lambda r: r["conversations"].__setitem__(0, {"from": "human", "value": "<image><image>"})),
        _with(240, lambda r: r.pop("conversations")),
        _with(240, lambda r: r.update(id=1.5)),
    ],
    ids=[
        "turn key",
        "image null",
        "image number",
        "image list",
        "value number",
        "ID",
        "two keys",
        "two other keys",
        "many key names",
        "video",
        "turn string",
        "no alternation",
        "two marks",
        "no conversations",
        "float id",
    ],
)
def test_what_the_typed_read_cannot_stand_for_is_read_by_the_general_reader(tmp_path, monkeypatch, records):
    typed, answers = _ingest(tmp_path, "mix.json", records, True, monkeypatch)
    general, _ = _ingest(tmp_path, "mix.json", records, False, monkeypatch)
    assert answers == [False]
    assert typed == general


def test_an_escape_that_hides_a_quote_from_the_count_is_left_to_the_general_reader(tmp_path, monkeypatch):
    text = json.dumps(_plain_records()).replace("Turn 3.", "Turn \\u0022 3.", 1)
    typed, answers = _ingest(tmp_path, "mix.json", text, True, monkeypatch)
    general, _ = _ingest(tmp_path, "mix.json", text, False, monkeypatch)
    assert answers == [False]
    assert typed == general


def test_other_keys_in_different_records_are_each_a_column(tmp_path, monkeypatch):
    records = _plain_records()
    for i in range(0, 200, 9):
        records[i]["source"] = {"dataset": "ocr_vqa", "page": i}
    records[5]["weight"] = 0.5
    typed, answers = _ingest(tmp_path, "mix.json", records, True, monkeypatch)
    general, _ = _ingest(tmp_path, "mix.json", records, False, monkeypatch)
    assert answers == [True]
    assert typed == general
    columns, _, rows = typed["llava_records"]
    extras = {row[columns.index("record_index")]: row[columns.index("extra")] for row in rows}
    assert (extras[5], extras[9], extras[231]) == (
        '{"weight":0.5}',
        '{"source":{"dataset":"ocr_vqa","page":9}}',
        '{"model":""}',
    )


def test_a_key_the_windows_miss_is_found_by_asking_every_record(tmp_path, monkeypatch):
    # One window of 300 bytes sees the first record only: `model` (from record 231 on) is missed,
    # the punctuation shows it, and the keys of all records are asked before the second read.
    monkeypatch.setattr(llava_typed_read, "WINDOWS", 1)
    monkeypatch.setattr(llava_typed_read, "WINDOW_BYTES", 300)
    asked = []
    real = llava_typed_read.discovered_keys
    monkeypatch.setattr(llava_typed_read, "discovered_keys", lambda *a: asked.append(real(*a)) or asked[-1])
    records = _plain_records()
    typed, answers = _ingest(tmp_path, "mix.json", records, True, monkeypatch)
    general, _ = _ingest(tmp_path, "mix.json", records, False, monkeypatch)
    assert asked == [{"id", "image", "conversations", "model"}]
    assert answers == [True]
    assert typed == general


def test_files_read_two_at_a_time_each_keep_their_rejects(tmp_path):
    # The LLaVA files run on cursors of their own, two at a time; the rejects table is shared.
    source = tmp_path / "source"
    source.mkdir()
    paths = []
    for n in range(3):
        records = _plain_records()
        records[10 + n]["conversations"] = []
        path = source / f"part{n}.json"
        path.write_text(json.dumps(records), encoding="utf-8")
        paths.append(path)
    warehouse = Warehouse(tmp_path / "warehouse")
    run_ingest(source, tuple(paths), warehouse, progress=False)
    files = sorted(str(f) for f in (warehouse.root / "current" / "rejects").rglob("*.parquet"))
    rejects = duckdb.sql(f"select source, record_index, reason from read_parquet({files}) order by all").fetchall()
    assert rejects == [(f"part{n}.json", 10 + n, 'empty "conversations"') for n in range(3)]
    records = sorted(str(f) for f in (warehouse.root / "current" / "llava_records").rglob("*.parquet"))
    counts = duckdb.sql(f"select source, count(*) from read_parquet({records}) group by 1 order by 1").fetchall()
    assert counts == [(f"part{n}", 260) for n in range(3)]
