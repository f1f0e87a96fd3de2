"""Bad input: every record-level problem lands in `rejects` with file, record index and reason;
the rest of the file is kept, and nothing of a rejected block reaches the published tables."""

from __future__ import annotations

import json
import zipfile

import pytest

from ingest.pipeline import run_ingest
from svit.core.errors import InputError
from svit.core.warehouse import Warehouse
from tests.helpers import count, qa, svit_cli, table, vg_image, write_corpus

GOOD_Q = "What is <st>clock<ed> [0.526, 0.152, 0.625, 0.717] next to?"
GOOD_A = "It stands by <st>men<ed> [0.1, 0.2, 0.3, 0.4], [0.5, 0.2, 0.7, 0.9] on the walk."


def _ingest(tmp_path, tasks, images=(1, 2, 3)):
    source = write_corpus(tmp_path / "src", tasks, [vg_image(i) for i in images])
    warehouse = Warehouse(tmp_path / "wh")
    report = run_ingest(source, (), warehouse, progress=False)
    return warehouse, report


def _rejects(warehouse):
    return table(warehouse, "rejects", order="source, record_index, block")


@pytest.mark.parametrize(
    "bad_block, reason",
    [
        ({"contents": qa("q", "a")}, 'missing "content"'),
        ({"content": "not a list"}, '"content" is not a list'),
        ({"content": []}, 'empty "content"'),
        (
            {"content": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "a"}]},
            'turn 1: "from" is assistant, not user/gpt',
        ),
        (
            {"content": [{"from": "user", "value": "q"}, {"from": "user", "value": "a"}]},
            "turn 1: turns do not alternate user/gpt",
        ),
        ({"content": [{"from": "gpt", "value": "a"}]}, "turn 0: turns do not alternate user/gpt"),
        ({"content": [{"from": "user", "value": "q"}, {"from": "gpt", "value": 5}]}, 'turn 1: "value" is not a string'),
        ({"content": [{"from": "user", "value": "q"}, {"from": "gpt"}]}, 'turn 1: missing "value"'),
        ({"content": [{"value": "q"}, {"from": "gpt", "value": "a"}]}, 'turn 0: missing "from"'),
    ],
)
def test_bad_block_is_rejected_whole_and_its_neighbours_kept(tmp_path, bad_block, reason):
    items = [
        {"image_id": 1, "conversations": [{"content": qa("q0", "a0")}, bad_block, {"content": qa("q2", "a2")}]},
        {"image_id": 2, "conversations": [{"content": qa("q3", "a3")}]},
    ]
    warehouse, report = _ingest(tmp_path, {"conversation": items})
    [reject] = _rejects(warehouse)
    assert (reject["source"], reject["record_index"], reject["block"], reject["reason"]) == (
        "conversation.json",
        0,
        1,
        reason,
    )
    assert json.loads(reject["raw_json"]) == bad_block
    assert reject["path"].endswith("data/conversation.json")
    assert [(r["image_id"], r["block"]) for r in table(warehouse, "conversations", order="image_id, block")] == [
        (1, 0),
        (1, 2),
        (2, 0),
    ]
    assert [r["text"] for r in table(warehouse, "turns", order="image_id, block, turn")] == [
        "q0",
        "a0",
        "q2",
        "a2",
        "q3",
        "a3",
    ]
    assert report.rejected == 1


@pytest.mark.parametrize(
    "item, reason",
    [
        ({"conversations": [{"content": qa("q", "a")}]}, 'missing "image_id"'),
        ({"image_id": "2", "conversations": [{"content": qa("q", "a")}]}, '"image_id" is not an integer'),
        ({"image_id": 2}, 'missing "conversations"'),
        ({"image_id": 99, "conversations": [{"content": qa("q", "a")}]}, "image_id 99 is not in image_data.json"),
        ({"image_id": 2, "conversations": {"content": qa("q", "a")}}, '"conversations" is not a list'),
        (42, "record is a UBIGINT, not an object"),
        ({"image_id": 1, "conversations": [{"content": qa("again", "again")}]}, "image_id 1 repeats record 0"),
    ],
)
def test_bad_image_item_is_rejected_with_its_record_index(tmp_path, item, reason):
    items = [
        {"image_id": 1, "conversations": [{"content": qa("q0", "a0")}]},
        item,
        {"image_id": 3, "conversations": [{"content": qa("q", "a")}]},
    ]
    warehouse, _ = _ingest(tmp_path, {"complex_reasoning": items})
    rejects = _rejects(warehouse)
    assert [(r["record_index"], r["reason"]) for r in rejects] == [(1, reason)]
    # The whole item, or for a repeated image each of its blocks (here one).
    expected = item["conversations"][0] if reason.endswith("repeats record 0") else item
    assert json.loads(rejects[0]["raw_json"]) == expected
    assert sorted(r["image_id"] for r in table(warehouse, "conversations")) == [1, 3]
    assert count(warehouse, "turns") == 4


@pytest.mark.parametrize(
    "question, reason",
    [
        ("Where is <st>clock<ed> [0.7, 0.1, 0.6, 0.9]?", "turn 0: box [0.7, 0.1, 0.6, 0.9] has x2 < x1"),
        ("Where is <st>clock<ed> [0.1, 0.9, 0.6, 0.2]?", "turn 0: box [0.1, 0.9, 0.6, 0.2] has y2 < y1"),
        ("Where is <st>clock<ed> [0.1, 0.1, 1.6, 0.9]?", "turn 0: box [0.1, 0.1, 1.6, 0.9] outside 0..1"),
        ("Where is <st>clock<ed> [0.1, 0.1, 0.6]?", "turn 0: malformed box [0.1, 0.1, 0.6]"),
        ("Where is <st>clock [0.1, 0.1, 0.6, 0.9]?", "turn 0: <st> and <ed> do not pair up"),
        ("Where is <st>clock <st>men<ed> [0.1, 0.1, 0.6, 0.9]<ed>?", "turn 0: unclosed <st>"),
        ("Where is clock<ed> [0.1, 0.1, 0.6, 0.9]?", "turn 0: <st> and <ed> do not pair up"),
        ("Where is <st>clock<ed> [0.1, 0.1, 0.6, 0.9] or<ed> the <st>men?", "turn 0: unclosed <st>"),
    ],
)
def test_bad_referring_marks_reject_the_block_and_its_boxes(tmp_path, question, reason):
    bad = {"content": qa(question, GOOD_A)}
    items = [{"image_id": 1, "conversations": [{"content": qa(GOOD_Q, GOOD_A)}, bad]}]
    warehouse, _ = _ingest(tmp_path, {"referring_qa": items})
    [reject] = _rejects(warehouse)
    assert (reject["record_index"], reject["block"], reject["reason"]) == (0, 1, reason)
    assert json.loads(reject["raw_json"]) == bad
    assert {r["block"] for r in table(warehouse, "turns")} == {0}
    boxes = table(warehouse, "boxes", order="turn, mark_index, box_index")
    assert {b["block"] for b in boxes} == {0}
    assert [b["box_text"] for b in boxes] == [
        "[0.526, 0.152, 0.625, 0.717]",
        "[0.1, 0.2, 0.3, 0.4]",
        "[0.5, 0.2, 0.7, 0.9]",
    ]


def test_a_mark_whose_phrase_ends_in_an_angle_bracket_is_kept(tmp_path):
    question = "Where is the <st>clock<<ed> [0.1, 0.2, 0.3, 0.4]?"
    items = [{"image_id": 1, "conversations": [{"content": qa(question, "ok")}]}]
    warehouse, _ = _ingest(tmp_path, {"referring_qa": items})
    assert _rejects(warehouse) == []
    [box] = table(warehouse, "boxes")
    assert (box["phrase"], box["box_text"], box["mark_offset"], box["box_offset"]) == (
        "clock<",
        "[0.1, 0.2, 0.3, 0.4]",
        13,
        28,
    )


def test_referring_offsets_count_characters_not_bytes(tmp_path):
    question = (
        "Où est l'<st>horloge é<ed> [0.1, 0.2, 0.3, 0.4] — et <st>中文<ed> [0.5, 0.5, 0.6, 0.6], [0.0, 0.0, 1.0, 1.0]?"
    )
    items = [{"image_id": 1, "conversations": [{"content": qa(question, "ok")}]}]
    warehouse, _ = _ingest(tmp_path, {"referring_qa": items})
    boxes = table(warehouse, "boxes", order="mark_index, box_index")
    assert [(b["phrase"], b["box_index"]) for b in boxes] == [("horloge é", 0), ("中文", 0), ("中文", 1)]
    for b in boxes:
        assert question[b["box_offset"] : b["box_offset"] + len(b["box_text"])] == b["box_text"]
        assert question[b["mark_offset"] :].startswith("<st>" + b["phrase"] + "<ed>")
    assert (boxes[2]["x1"], boxes[2]["y2"]) == (0.0, 1.0)


def test_llava_record_problems_are_rejected(tmp_path):
    records = [
        {
            "id": "a",
            "image": "x.jpg",
            "conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}],
        },
        {"id": "b", "image": None, "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
        {"image": "x.jpg", "conversations": [{"from": "human", "value": "q"}]},
        {"id": "d", "conversations": [{"from": "user", "value": "q"}, {"from": "gpt", "value": "a"}]},
        {"id": 5, "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": ["a"]}]},
        {"id": 6, "model": "", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
    ]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(records))
    (tmp_path / "src").mkdir()
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(tmp_path / "src", (path,), warehouse, progress=False)
    reasons = [(r["record_index"], r["reason"]) for r in _rejects(warehouse)]
    assert reasons == [
        (1, '"image" is null, not a string or a list of strings'),
        (2, 'missing "id"'),
        (3, 'turn 0: "from" is user, not human/gpt'),
        (4, 'turn 1: "value" is not a string'),
    ]
    kept = table(warehouse, "llava_records", order="record_index")
    assert [(r["record_index"], r["id_json"]) for r in kept] == [(0, '"a"'), (5, "6")]
    assert [r["record_index"] for r in table(warehouse, "llava_turns", order="record_index, turn")] == [0, 0, 5, 5]
    assert json.loads(_rejects(warehouse)[3]["raw_json"]) == records[4]


def test_truncated_json_stops_with_the_file_named(tmp_path):
    items = [{"image_id": 1, "conversations": [{"content": qa("q", "a")}]}] * 3
    source = write_corpus(tmp_path / "src", {"conversation": items}, [vg_image(1)])
    text = (source / "data" / "conversation.json").read_text()
    (source / "data" / "conversation.json").write_text(text[: len(text) // 2])
    proc = svit_cli("ingest", str(source), "--warehouse", str(tmp_path / "wh"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "conversation.json" in proc.stderr and "not a readable JSON array" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wh" / "current").exists()


def test_not_json_at_all_stops(tmp_path):
    source = write_corpus(tmp_path / "src", {"conversation": []}, [vg_image(1)])
    (source / "data" / "conversation.json").write_text("image_id,conversations\n1,hello\n")
    with pytest.raises(InputError, match="conversation.json"):
        run_ingest(source, (), Warehouse(tmp_path / "wh"), progress=False)


def test_zip_without_the_expected_member_names_the_zip(tmp_path):
    (tmp_path / "src" / "data").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "src" / "data" / "referring_qa.zip", "w") as zf:
        zf.writestr("something_else.json", "[]")
    with pytest.raises(InputError, match=r"referring_qa.zip: expected one member named referring_qa.json"):
        run_ingest(tmp_path / "src", (), Warehouse(tmp_path / "wh"), progress=False)


def test_damaged_zip_member_stops_with_the_zip_named(tmp_path):
    items = [{"image_id": 1, "conversations": [{"content": qa("q" * 2000, "a" * 2000)}]}] * 50
    (tmp_path / "src" / "data").mkdir(parents=True)
    target = tmp_path / "src" / "data" / "conversation.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("conversation.json", json.dumps(items))
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    target.write_bytes(bytes(data))
    with pytest.raises(InputError, match="conversation.zip"):
        run_ingest(tmp_path / "src", (), Warehouse(tmp_path / "wh"), progress=False, check_image_ids=False)


def test_coco_caption_file_larger_than_duckdbs_default_object_size(tmp_path):
    """A COCO captions file is one object; train2017's is ~90 MB, past DuckDB's 16 MB default."""
    source = tmp_path / "src"
    coco = source / "raw" / "annotations" / "coco"
    coco.mkdir(parents=True)
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(20_000)]
    annotations = [
        {"image_id": i % 20_000, "id": i, "caption": f"A caption number {i} " + "x" * 120} for i in range(120_000)
    ]
    (coco / "captions_train2017.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    assert (coco / "captions_train2017.json").stat().st_size > 16 * 2**20
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    assert count(warehouse, "coco_captions") == 120_000
    [row] = table(warehouse, "coco_captions", "caption_id = 12345")
    assert (row["coco_id"], row["file_name"], row["split"]) == (
        12345 % 20_000,
        f"{12345 % 20_000:012d}.jpg",
        "train2017",
    )


IMAGES = [vg_image(i) for i in range(1, 6)]


def _with_image_data(tmp_path, damage):
    """A download with one SVIT item and image_data.json of five images, damaged by `damage`
    (the records -> their JSON text); the source folder and image_data.json's path."""
    source = write_corpus(
        tmp_path / "src", {"conversation": [{"image_id": 1, "conversations": [{"content": qa("q", "a")}]}]}, []
    )
    image_data = source / "raw" / "annotations" / "vg" / "image_data.json"
    image_data.write_text(damage([dict(image) for image in IMAGES]))
    return source, image_data


def _cut_inside_record(index: int):
    # The text up to `index`'s record, and a little of it.
    return lambda images: json.dumps(images)[: len(json.dumps(images[:index])) + len('{"image_id": ')]


def _with(index: int, **changes):
    return lambda images: json.dumps(images[:index] + [{**images[index], **changes}] + images[index + 1 :])


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            _cut_inside_record(2),
            "record 2: the file ends before this record is complete (truncated); download it again",
        ),
        (
            lambda images: json.dumps(images)[:-1],
            "record 5: the file ends before this record is complete (truncated); download it again",
        ),
        (_with(3, width="wide"), 'record 3: width "wide" is not an integer; fix the file or download it again'),
        (_with(3, width=800.5), "record 3: width 800.5 is not an integer; fix the file or download it again"),
        (_with(1, height="600"), 'record 1: height "600" is not an integer; fix the file or download it again'),
        (_with(4, image_id=[5]), "record 4: image_id [5] is not an integer; fix the file or download it again"),
        (_with(2, width=2**40), "record 2: width 1099511627776 is out of range; fix the file or download it again"),
        (
            lambda images: json.dumps(images[:1] + [7] + images[1:]),
            "record 1: a number, not an object; fix the file or download it again",
        ),
        (
            lambda images: json.dumps(images).replace("}, {", "} {", 1),
            "record 1: not valid JSON (unexpected character); fix the file or download it again",
        ),
    ],
    ids=[
        "truncated",
        "truncated before ]",
        "width a string",
        "width a fraction",
        "height a numeric string",
        "image_id a list",
        "width too large",
        "record not an object",
        "missing comma",
    ],
)
def test_damaged_image_data_stops_with_one_line(tmp_path, damage, message):
    source, image_data = _with_image_data(tmp_path, damage)
    with pytest.raises(InputError) as raised:
        run_ingest(source, (), Warehouse(tmp_path / "wh"), progress=False)
    assert str(raised.value) == f"{image_data}: {message}"
    assert len(str(raised.value).splitlines()) == 1
    assert not (tmp_path / "wh" / "current").exists()


def test_a_whole_number_written_as_a_float_is_an_integer(tmp_path):
    """800.0 is what a tool writing ids through a float column (with nulls) gives: not damage."""
    source, _ = _with_image_data(tmp_path, _with(3, width=800.0, coco_id=12.0))
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    [image] = table(warehouse, "images", "image_id = 4")
    assert (image["width"], image["coco_id"]) == (800, 12)


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            _cut_inside_record(2),
            "record 2: the file ends before this record is complete (truncated); download it again",
        ),
        (_with(3, width="wide"), 'record 3: width "wide" is not an integer; fix the file or download it again'),
    ],
    ids=["truncated", "width a string"],
)
def test_damaged_image_data_via_the_cli(tmp_path, damage, message):
    source, image_data = _with_image_data(tmp_path, damage)
    proc = svit_cli("ingest", str(source), "--warehouse", str(tmp_path / "wh"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"svit: {image_data}: {message}"]
