"""The typed read of SVIT files (the fast path) against the read of blocks as JSON text.

The typed read is kept only when the file's punctuation proves it dropped no key and
coerced no value (ingest/json_punctuation.py). Every table must come out the same either
way, and each thing the typed read cannot see must send the file to the JSON read.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from ingest import svit_original
from ingest.json_punctuation import RawCounter, _count, _has_hiding_escape
from ingest.pipeline import run_ingest
from svit.core.warehouse import Warehouse
from tests.helpers import qa, table, vg_image, write_corpus

TABLES = {
    "turns": "task, image_id, block, turn",
    "conversations": "task, image_id, block",
    "boxes": "image_id, block, turn, mark_index, box_index",
    "rejects": "source, record_index, block nulls first",
}
BOX_Q = "Is <st>clock<ed> [0.526, 0.152, 0.625, 0.717] near <st>men<ed> [0.1, 0.2, 0.3, 0.4], [0.5, 0.2, 0.7, 0.9]?"


def _ingest(source, path, monkeypatch, readers):
    monkeypatch.setattr(svit_original, "READERS", readers)
    report = run_ingest(source, (), Warehouse(path), progress=False)
    return {name: table(Warehouse(path), name, order=order) for name, order in TABLES.items()}, {
        f.name: f.reader for f in report.files if f.reader and f.kind != "llava"
    }


def _both(tmp_path, monkeypatch, source):
    typed, readers = _ingest(source, tmp_path / "typed", monkeypatch, ("typed", "json", "tolerant"))
    plain, json_readers = _ingest(source, tmp_path / "json", monkeypatch, ("json", "tolerant"))
    assert set(json_readers.values()) == {"json"}
    return typed, plain, readers


def test_the_bundled_style_corpus_is_read_typed_with_its_extra_keys(tmp_path, monkeypatch, corpus):
    source, truth = corpus
    typed, plain, readers = _both(tmp_path, monkeypatch, source)
    assert readers == {f"{task}.json": "typed" for task in truth["blocks_per_task"]}
    assert typed == plain
    extras = [json.loads(r["extra"]) for r in typed["conversations"] if r["extra"]]
    assert len(extras) == sum(truth["blocks_with_extra_keys"].values()) > 0


def test_problems_the_typed_read_judges_give_the_same_rejects(tmp_path, monkeypatch):
    conversation = [
        {
            "image_id": 1,
            "conversations": [
                {"content": qa("q0", "a0"), "topic": "sport", "weight": {"a": [1, "x:y"], "b": None}},
                {"content": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "a"}]},
                {"content": [{"from": "user", "value": "q"}, {"from": "user", "value": "a"}]},
                {"content": []},
                {"content": qa('say "hi": ok', "a\\b \u00e9 \u4e2d")},
            ],
        },
        {"image_id": 99, "conversations": [{"content": qa("q", "a")}]},
        {"image_id": 1, "conversations": [{"content": qa("again", "again")}]},
        {"image_id": 2, "conversations": [{"content": qa("q3", "a3")}, {"content": [{"from": "gpt", "value": "a"}]}]},
    ]
    referring = [
        {
            "image_id": 1,
            "conversations": [
                {"content": qa(BOX_Q, "ok")},
                {"content": qa("Where is <st>clock<ed> [0.7, 0.1, 0.6, 0.9]?", "there")},
                {"content": qa("Where is <st>clock [0.1, 0.1, 0.6, 0.9]?", "there")},
            ],
        }
    ]
    source = write_corpus(
        tmp_path / "src", {"conversation": conversation, "referring_qa": referring}, [vg_image(i) for i in (1, 2)]
    )
    typed, plain, readers = _both(tmp_path, monkeypatch, source)
    assert readers == {"conversation.json": "typed", "referring_qa.json": "typed"}
    assert typed == plain
    assert [(r["record_index"], r["block"], r["reason"]) for r in typed["rejects"]] == [
        (0, 1, 'turn 1: "from" is assistant, not user/gpt'),
        (0, 2, "turn 1: turns do not alternate user/gpt"),
        (0, 3, 'empty "content"'),
        (1, None, "image_id 99 is not in image_data.json"),
        (2, 0, "image_id 1 repeats record 0"),
        (3, 1, "turn 0: turns do not alternate user/gpt"),
        (0, 1, "turn 0: box [0.7, 0.1, 0.6, 0.9] has x2 < x1"),
        (0, 2, "turn 0: <st> and <ed> do not pair up"),
    ]
    assert json.loads(typed["rejects"][2]["raw_json"]) == {"content": []}
    kept = [r for r in typed["conversations"] if r["task"] == "conversation"]
    assert [json.loads(r["extra"]) if r["extra"] else None for r in kept] == [
        {"topic": "sport", "weight": {"a": [1, "x:y"], "b": None}},
        None,
        None,
    ]
    assert [t["text"] for t in typed["turns"] if t["task"] == "conversation"][2:4] == [
        'say "hi": ok',
        "a\\b \u00e9 \u4e2d",
    ]


def _write_raw(tmp_path, text: str):
    """A conversation.json written by hand, for spellings json.dumps would not produce."""
    source = write_corpus(tmp_path / "src", {}, [vg_image(1), vg_image(2)])
    (source / "data" / "conversation.json").write_text(text)
    return source


GOOD = (
    '{"image_id": 2, "conversations": [{"content": [{"from": "user", "value": "q"}, {"from": "gpt", "value": "a"}]}]}'
)


@pytest.mark.parametrize(
    "item",
    [
        # A number, a list and null where a string belongs: the typed read would give '5', ...
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "q"}, '
            '{"from": "gpt", "value": 5}]}]}'
        ),
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "q"}, '
            '{"from": "gpt", "value": ["a:b"]}]}]}'
        ),
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "q"}, '
            '{"from": "gpt", "value": null}]}]}'
        ),
        '{"image_id": 1, "conversations": [{"content": [{"from": 7, "value": "q"}, {"from": "gpt", "value": "a"}]}]}',
        # ... and a number beside an extra key, so neither count moves alone.
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "q"}, '
            '{"from": "gpt", "value": 5, "x": 1}]}]}'
        ),
        # Keys the typed read does not ask for: on a turn, on an item.
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "q", "lang": "en"}, '
            '{"from": "gpt", "value": "a"}]}]}'
        ),
        (
            '{"image_id": 1, "source": "vg", "conversations": [{"content": [{"from": "user", "value": "q"}, '
            '{"from": "gpt", "value": "a"}]}]}'
        ),
        # A quote spelled as an escape hides from the byte count.
        (
            '{"image_id": 1, "conversations": [{"content": [{"from": "user", "value": "say \\u0022hi\\u0022"}, '
            '{"from": "gpt", "value": "a"}]}]}'
        ),
        # Shapes the typed read cannot judge: no conversations left, a missing key.
        '{"image_id": 1, "conversations": []}',
        '{"image_id": 1, "conversations": [{"content": [{"value": "q"}, {"from": "gpt", "value": "a"}]}]}',
    ],
)
def test_what_the_typed_read_cannot_see_sends_the_file_to_the_json_read(tmp_path, monkeypatch, item):
    source = _write_raw(tmp_path, f"[{item}, {GOOD}]")
    typed, plain, readers = _both(tmp_path, monkeypatch, source)
    assert readers == {"conversation.json": "json"}
    assert typed == plain


def test_an_extra_block_key_first_seen_after_the_sample_sends_the_file_to_the_json_read(tmp_path, monkeypatch):
    items = [
        {
            "image_id": 1,
            "conversations": [{"content": qa("q" * 200, "a")}] * 5 + [{"content": qa("q", "a"), "late": True}],
        }
    ]
    source = write_corpus(tmp_path / "src", {"conversation": items}, [vg_image(1)])
    monkeypatch.setattr(svit_original, "KEY_SAMPLE_BYTES", 512)
    typed, plain, readers = _both(tmp_path, monkeypatch, source)
    assert readers == {"conversation.json": "json"}
    assert typed == plain
    assert [json.loads(r["extra"]) for r in typed["conversations"] if r["extra"]] == [{"late": True}]


@pytest.mark.parametrize(
    "chunks, hiding",
    [
        ((b'["a\\u00', b'22b", "c:d"]'), True),  # split between two chunks
        ((b'["a\\u0022b", "c:d"]',), True),
        ((b'["a\\u003Ab", "c:d"]',), True),
        ((b'["a\\u003ab", "c:d"]', b"  "), True),
        ((b'["a\\u00e9\\n\\u2019b", "c:d"]',), False),  # other escapes are fine
        ((b'["a\\u002', b'0b", "c:d"]'), False),
    ],
)
def test_raw_counter_counts_quotes_and_colons_and_finds_hiding_escapes(chunks, hiding):
    counter = RawCounter()
    for chunk in chunks:
        counter.feed(chunk)
    assert (counter.counts.quotes, counter.counts.colons, counter.counts.hiding_escapes) == (4, 1, hiding)


def test_quotes_and_colons_are_counted_eight_bytes_at_a_time_as_one_at_a_time():
    # Every start within an 8-byte word and every length up to a few words: the compiled count
    # reads whole 64-bit words, then the bytes after them.
    rng = random.Random(0)
    data = bytes(rng.choice(b'":ab\\"\x00\xff:') for _ in range(200))
    for start in range(9):
        for end in range(start, len(data) + 1, 7):
            piece = data[start:end]
            counted = _count(np.frombuffer(piece, np.uint8))
            assert (counted.quotes, counted.colons) == (piece.count(b'"'), piece.count(b":")), (start, end)
            assert type(counted.quotes) is int and type(counted.colons) is int


def test_hiding_escapes_are_found_at_every_place_in_a_word():
    # The search looks only behind the backslashes of each 8-byte word, then in the bytes
    # after the last word: an escape starting anywhere, ending inside or past the piece, and
    # a word with several backslashes.
    rng = random.Random(1)
    tokens = [b"\\u0022", b"\\u003a", b"\\u003A", b"\\u002", b"\\u00e9", b"\\n", b"\\", b'"', b":", b"ab", b"u0022"]
    for _ in range(3000):
        piece = b"".join(rng.choice(tokens) for _ in range(rng.randrange(0, 10)))
        for start in range(min(9, len(piece) + 1)):
            part = piece[start:]
            found = _has_hiding_escape(np.frombuffer(part, np.uint8))
            assert found == bool(re.search(rb"\\u00(22|3[aA])", part)), part


def test_svit_json_infers_the_same_tasks_either_way(tmp_path, monkeypatch, corpus):
    corpus_dir, _ = corpus
    combined: dict[int, list] = {}
    for task in ("conversation", "complex_reasoning", "detail_description", "referring_qa"):
        for item in json.loads((corpus_dir / "data" / f"{task}.json").read_text()):
            combined.setdefault(item["image_id"], []).extend(item["conversations"])
    items = [{"image_id": k, "conversations": v} for k, v in combined.items()]
    source = write_corpus(
        tmp_path / "src", {}, json.loads((corpus_dir / "raw/annotations/vg/image_data.json").read_text())
    )
    (source / "data" / "svit.json").write_text(json.dumps(items))
    typed, plain, readers = _both(tmp_path, monkeypatch, source)
    assert readers == {"svit.json": "typed"}
    assert typed == plain


def test_a_plain_file_is_counted_during_its_scan_when_the_caller_has_not(tmp_path):
    from ingest.duck import connect
    from ingest.sources import discover, feeds_for
    from svit.core.tables import TABLES

    source = write_corpus(
        tmp_path / "src", {"conversation": [{"image_id": 1, "conversations": [{"content": qa("q", "a")}]}]}
    )
    inputs = discover(source)
    con = connect(tmp_path / "tmp")
    con.execute(f"create temp table rejects ({TABLES['rejects'][0]})")
    with feeds_for(inputs, tmp_path) as feeds:
        counts = svit_original.ingest_svit_files(con, inputs, feeds, tmp_path / "stage", False, False)
    assert [(c.reader, c.blocks_written, c.turns_written) for c in counts.values()] == [("typed", 1, 2)]


@pytest.mark.parametrize("reader", ["typed", "json", "tolerant"])
def test_every_reader_stores_svits_user_as_human(tmp_path, monkeypatch, reader):
    """The warehouse spells roles as LLaVA does; a reject's reason keeps the file's spelling."""
    items = [
        {
            "image_id": 1,
            "conversations": [
                {"content": qa("q0", "a0")},
                {"content": [{"from": "user", "value": "q1"}, {"from": "assistant", "value": "a1"}]},
                {"content": qa("q2", "a2") + qa("q3", "a3")},
            ],
        }
    ]
    source = write_corpus(tmp_path / "src", {"conversation": items}, [vg_image(1)])
    # From `reader` on in the usual order: a rejected block's rescan reads with the JSON read.
    order = ("typed", "json", "tolerant")
    tables, readers = _ingest(source, tmp_path / "wh", monkeypatch, order[order.index(reader) :])
    assert readers == {"conversation.json": reader}
    assert [(t["block"], t["turn"], t["role"], t["text"]) for t in tables["turns"]] == [
        (0, 0, "human", "q0"),
        (0, 1, "gpt", "a0"),
        (2, 0, "human", "q2"),
        (2, 1, "gpt", "a2"),
        (2, 2, "human", "q3"),
        (2, 3, "gpt", "a3"),
    ]
    assert [(r["block"], r["reason"]) for r in tables["rejects"]] == [(1, 'turn 1: "from" is assistant, not user/gpt')]
