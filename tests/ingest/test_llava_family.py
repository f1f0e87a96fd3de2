"""LLaVA-family files: JSON arrays and JSON lines, several images and videos per record
(LLaVA-NeXT / OneVision, M4-Instruct), the placeholder counts, and the round trip back out."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from ingest.pipeline import run_ingest
from svit.check import check
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse
from svit.export import export
from svit.images import run_images
from svit.mix import build_mix
from svit.stats import run_stats
from svit.tokens import run_tokens
from svit.tokens.images import llava_15_tokens, qwen2_vl_tokens
from svit.workflows import build_with_manifests
from tests.helpers import one_line_error, query, svit_cli, table, tricky_records


def _qa(question: str, answer: str) -> list[dict]:
    return [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]


# Each shape a record of the family takes: several images, a video (marked with <image>, as
# LLaVA-NeXT marks it, or <video>), both, one image without a mark (implicit), text only,
# integer ids, extra keys, unicode.
MEDIA_RECORDS = [
    {
        "id": "m4_0001",
        "image": ["a/1.jpg", "a/2.jpg"],
        "conversations": _qa("<image>\n<image>\nWhat changed?", "The hands."),
    },
    {"id": 7, "video": "clips/0001.mp4", "conversations": _qa("<image>\nWhat happens?", "A tram passes."), "fps": 2},
    {"id": "v2", "video": ["c/1.mp4", "c/2.mp4"], "conversations": _qa("<video><video> Compare.", "Same tram.")},
    {"id": "both", "image": ["x.jpg"], "video": "y.mp4", "conversations": _qa("<image> and <video>", "Two.")},
    {"id": "implicit", "image": "coco/train2017/1.jpg", "conversations": _qa("Where is it?", "Here, é 😊.")},
    {"id": "text", "conversations": _qa("Name three primes.", "2, 3 and 5.")},
]


def _ingest(tmp_path, name: str, text: str) -> Warehouse:
    source = tmp_path / "source"
    source.mkdir(parents=True, exist_ok=True)
    path = source / name
    path.write_text(text, encoding="utf-8")
    warehouse = Warehouse(tmp_path / "warehouse")
    run_ingest(source, (path,), warehouse, progress=False)
    return warehouse


def _as_lines(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_several_images_and_videos_become_media_rows_in_order(tmp_path):
    warehouse = _ingest(tmp_path, "OneVision.json", json.dumps(MEDIA_RECORDS))
    media = [(m["record_index"], m["ordinal"], m["kind"], m["path"]) for m in table(warehouse, "llava_media")]
    assert media == [
        (0, 0, "image", "a/1.jpg"),
        (0, 1, "image", "a/2.jpg"),
        (1, 0, "video", "clips/0001.mp4"),
        (2, 0, "video", "c/1.mp4"),
        (2, 1, "video", "c/2.mp4"),
        (3, 0, "image", "x.jpg"),
        (3, 1, "video", "y.mp4"),
        (4, 0, "image", "coco/train2017/1.jpg"),
    ]
    records = table(warehouse, "llava_records", order="record_index")
    shapes = [(r["has_image"], r["image"], r["n_images"], r["n_videos"], r["media"], r["extra"]) for r in records]
    assert shapes == [
        (True, None, 2, 0, '{"image":["a/1.jpg","a/2.jpg"]}', None),
        (True, None, 0, 1, '{"video":"clips/0001.mp4"}', '{"fps":2}'),
        (True, None, 0, 2, '{"video":["c/1.mp4","c/2.mp4"]}', None),
        (True, None, 1, 1, '{"image":["x.jpg"],"video":"y.mp4"}', None),
        (True, "coco/train2017/1.jpg", 1, 0, None, None),
        (False, None, 0, 0, None, None),
    ]
    assert table(warehouse, "rejects") == []
    [manifest] = table(warehouse, "manifest")
    assert manifest["reader"] == "json array"
    assert json.loads(manifest["notes"]) == {"with an implicit placeholder (one medium, no mark)": 1}


@pytest.mark.parametrize("container, fmt, suffix", [("array", "llava", ".json"), ("lines", "jsonl", ".jsonl")])
def test_every_shape_comes_back_out_equal(tmp_path, container, fmt, suffix):
    records = MEDIA_RECORDS + tricky_records()
    text = json.dumps(records, ensure_ascii=False, indent=2) if container == "array" else _as_lines(records)
    warehouse = _ingest(tmp_path, f"Family{suffix}", text)
    assert table(warehouse, "rejects") == []
    out = tmp_path / f"out{suffix}"
    export(warehouse, "family", out, fmt, progress=False)
    written = out.read_text(encoding="utf-8")
    back = json.loads(written) if fmt == "llava" else [json.loads(line) for line in written.split("\n") if line]
    assert back == records


def test_json_lines_skip_blank_lines_and_reject_a_line_that_is_not_json_by_its_number(tmp_path):
    good = [{"id": i, "image": f"{i}.jpg", "conversations": _qa("<image>\nq", "a")} for i in range(3)]
    lines = [json.dumps(good[0]), "", json.dumps(good[1]) + "\r", '{"id": "cut", "image": "x.jpg", "conv', "  "]
    lines.append(json.dumps(good[2]))
    warehouse = _ingest(tmp_path, "lines.jsonl", "\n".join(lines))  # no newline at the end
    rejects = [(r["record_index"], r["reason"], r["raw_json"]) for r in table(warehouse, "rejects")]
    assert rejects == [(2, "line 4 is not JSON", '{"id": "cut", "image": "x.jpg", "conv')]
    records = table(warehouse, "llava_records", order="record_index")
    assert [(r["record_index"], r["id_json"], r["image"]) for r in records] == [
        (0, "0", "0.jpg"),
        (1, "1", "1.jpg"),
        (3, "2", "2.jpg"),
    ]
    turns = table(warehouse, "llava_turns", order="record_index, turn")
    assert [t["record_index"] for t in turns] == [0, 0, 1, 1, 3, 3]


@pytest.mark.parametrize(
    "media, reason",
    [
        ({"image": ["a.jpg", 3]}, '"image" item 1 is a number, not a string'),
        ({"image": ["a.jpg", ["b.jpg"]]}, '"image" item 1 is a list, not a string'),
        ({"image": []}, 'empty "image" list'),
        ({"image": {"path": "a.jpg"}}, '"image" is an object, not a string or a list of strings'),
        ({"video": None}, '"video" is null, not a string or a list of strings'),
        ({"video": [None]}, '"video" item 0 is null, not a string'),
        ({"image": ["a.jpg", "b.jpg"]}, "1 <image>/<video> placeholders for 2 media (2 images, 0 videos)"),
        ({"image": "a.jpg"}, "2 <image>/<video> placeholders for 1 medium"),
        ({}, "1 <image>/<video> placeholders in a record without media"),
    ],
)
def test_media_that_no_trainer_reads_reject_the_record_and_say_why(tmp_path, media, reason):
    marks = "<image>\n<image>" if media == {"image": "a.jpg"} else "<image>"
    bad = {"id": "bad", **media, "conversations": _qa(f"{marks} q", "a")}
    fine = {"id": "fine", "image": "f.jpg", "conversations": _qa("<image> q", "a")}
    warehouse = _ingest(tmp_path, "bad.jsonl", _as_lines([fine, bad]))
    assert [(r["record_index"], r["reason"]) for r in table(warehouse, "rejects")] == [(1, reason)]
    assert json.loads(table(warehouse, "rejects")[0]["raw_json"]) == bad
    assert [r["id"] for r in table(warehouse, "llava_records")] == ["fine"]
    assert [m["path"] for m in table(warehouse, "llava_media")] == ["f.jpg"]


def test_a_file_of_neither_shape_is_one_line_naming_it_and_what_was_tried(tmp_path):
    (tmp_path / "src").mkdir()
    path = tmp_path / "notes.json"
    path.write_text("id,image\n1,a.jpg\n")
    proc = svit_cli("ingest", str(tmp_path / "src"), "--llava", str(path), "--warehouse", str(tmp_path / "wh"))
    line = one_line_error(proc)
    assert str(path) in line and "a JSON array" in line and "JSON lines" in line


def test_formats_write_several_images_and_refuse_what_their_trainer_would(tmp_path):
    warehouse = _ingest(tmp_path, "OneVision.json", json.dumps(MEDIA_RECORDS))
    with pytest.raises(SvitError) as caught:
        export(warehouse, "onevision", tmp_path / "out.json", "sharegpt", progress=False)
    # LLaMA-Factory counts <video> for videos (LLaVA-NeXT marks them <image>) and wants a mark per image.
    assert str(caught.value) == (
        "onevision cannot be written as sharegpt: records whose <image> tokens are not as many as their images: "
        '2 (ids: "7", "implicit"); records whose <video> tokens are not as many as their videos: 1 (ids: "7")'
    )
    with pytest.raises(SvitError, match=r'parquet: its rows hold one image, and 4 records .* \(ids: "m4_0001", 7,'):
        export(warehouse, "onevision", tmp_path / "out_parquet", "parquet", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source", "warehouse"]
    out = tmp_path / "qwen.jsonl"
    records = [r for r in MEDIA_RECORDS if r["id"] in ("m4_0001", "text")]
    warehouse = _ingest(tmp_path / "two", "Two.json", json.dumps(records))
    export(warehouse, "two", out, "qwen", progress=False)
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"image": ["a/1.jpg", "a/2.jpg"], "conversations": records[0]["conversations"]},
        {"conversations": records[1]["conversations"]},
    ]


def test_statistics_count_media_and_mixes_keep_them_in_order(tmp_path):
    warehouse = _ingest(tmp_path, "OneVision.json", json.dumps(MEDIA_RECORDS))
    build_with_manifests(warehouse, quiet=True)
    report = run_stats(warehouse, tmp_path / "report")
    sizes = {r["model"]: r for r in report.tables["llava_model_sizes"].dicts()}["onevision"]
    # m4_0001 names two images; 7, v2 and both a video; 8 media over 6 records.
    assert (sizes["multi_image"], sizes["with_video"], sizes["text_only"]) == (1, 3, 1)
    assert sizes["mean_media_per_record"] == pytest.approx(8 / 6)
    # svit check counts a record's media, not its one `image`: two marks for two images are
    # right; only `implicit` (no mark for its image) breaks Qwen2-VL's one mark per medium.
    found = {r.rule: r for r in check(warehouse, "onevision", family="qwen2-vl").rules if r.records}
    assert set(found) == {"image_placeholders"} and found["image_placeholders"].examples[0].startswith("implicit")
    assert {r.rule for r in check(warehouse, "onevision", family="llava-next").rules if r.records} == set()
    # `svit images` reads every image a record names: m4_0001's two (both missing here).
    root = tmp_path / "images"
    for present in ("x.jpg", "coco/train2017/1.jpg"):
        (root / present).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3)).save(root / present, "JPEG")
    assert run_images(warehouse, root, models=["onevision"], progress=False).paths == 4
    found = {r.rule: r for r in check(warehouse, "onevision", family="llava-next").rules if r.records}
    assert set(found) == {"image_missing"} and found["image_missing"].examples == ["m4_0001"]
    [(detail,)] = query(warehouse, "select detail from check_results where rule = 'image_missing'")
    assert detail == "a/1.jpg: no file; a/2.jpg: no file"
    # So does a recipe's `images: ok`: m4_0001 goes, for either of its images.
    recipe = tmp_path / "ok.yml"
    recipe.write_text("name: onevision_ok\nimages: ok\nsources:\n  - source: onevision\n")
    build_mix(warehouse, str(recipe))
    kept = [record_id for (record_id,) in query(warehouse, "select id from onevision_ok order by record_order")]
    assert kept == ["7", "v2", "both", "implicit", "text"]
    # Image tokens are summed over a record's images: m4_0001's two take LLaVA-1.5's fixed count
    # twice, `implicit`'s one once; a record with a video is unknown, not text-only.
    fixed = llava_15_tokens(0, 0)
    tokens = run_tokens(warehouse, "llava-1.5", models=["onevision"], progress=False)
    assert (tokens.records, tokens.unknown_size) == (6, 3)
    image_tokens = "select id, image_tokens from record_tokens where model = 'onevision' and family = "
    assert dict(query(warehouse, image_tokens + "'llava-1.5'")) == {
        "m4_0001": 2 * fixed, "7": None, "v2": None, "both": None, "implicit": fixed, "text": 0,
    }  # fmt: skip
    # A rule of the size reads each image's own: m4_0001's are unknown until their files are read.
    tokens = run_tokens(warehouse, "qwen2-vl", models=["onevision"], progress=False)
    assert tokens.unknown_size == 4
    for path, size in (("a/1.jpg", (448, 448)), ("a/2.jpg", (896, 448))):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size).save(root / path, "JPEG")
    run_images(warehouse, root, models=["onevision"], progress=False)
    run_tokens(warehouse, "qwen2-vl", models=["onevision"], progress=False)
    assert dict(query(warehouse, image_tokens + "'qwen2-vl'"))["m4_0001"] == (
        qwen2_vl_tokens(448, 448) + qwen2_vl_tokens(896, 448)
    )
    recipe = tmp_path / "all.yml"
    recipe.write_text("name: onevision_all\nsources:\n  - source: onevision\n")
    build_mix(warehouse, str(recipe))
    # In a mix, a record with several media holds no single `image`: its image tokens are unknown,
    # not 0.
    run_tokens(warehouse, "llava-1.5", models=["onevision_all"], progress=False)
    assert dict(query(warehouse, image_tokens.replace("'onevision'", "'onevision_all'") + "'llava-1.5'")) == {
        "m4_0001": None, "7": None, "v2": None, "both": None, "implicit": fixed, "text": 0,
    }  # fmt: skip
    out = tmp_path / "mix.json"
    export(warehouse, "onevision_all", out, "llava", progress=False)
    assert json.loads(out.read_text(encoding="utf-8")) == MEDIA_RECORDS


# --------------------------------------------------------------------------- other shapes, each back in its own format

SHAREGPT_TAGGED = [  # LLaMA-Factory's defaults: conversations, from/value, human/gpt
    {"conversations": _qa("<image>Where is the clock?", "On the tower."), "images": ["vg/VG_100K/1.jpg"]},
    {"conversations": _qa("<image><image>Compare.", "Same."), "images": ["a.jpg", "b.jpg"], "system": "Be brief."},
    {"conversations": _qa("Name three primes.", "2, 3 and 5 é."), "images": []},
    {"conversations": _qa("<video>What happens?", "A tram passes."), "videos": ["clips/1.mp4"]},
    {"id": 12, "conversations": _qa("No media key at all.", "Fine.")},
    {"id": 13, "conversations": [{"from": "system", "value": "Answer in French."}, *_qa("Hello?", "Bonjour.")]},
]
SHAREGPT_OPENAI = [  # OpenAI-style: messages, role/content, user/assistant (LLaMA-Factory's mllm_demo)
    {
        "messages": [{"role": "user", "content": "<image>Who?"}, {"role": "assistant", "content": "A man."}],
        "images": ["mllm_demo_data/1.jpg"],
    },
    {"messages": [{"role": "user", "content": "Hi 😊"}, {"role": "assistant", "content": "Hello."}], "images": []},
    {  # a system turn first: kept as the record's `system`, written back as the turn it was
        "messages": [
            {"role": "system", "content": "You are a careful assistant."},
            {"role": "user", "content": "<image>Count the cats."},
            {"role": "assistant", "content": "Two."},
        ],
        "images": ["cats.jpg"],
    },
]
TRL = [  # TRL's vision datasets: content parts
    {
        "images": ["vg/VG_100K/1.jpg"],
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Where is the clock?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "On the tower."}]},
        ],
    },
    {
        "id": "two",
        "images": ["a.jpg", "b.jpg"],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Compare"}, {"type": "image"}, {"type": "image"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Same\n"}]},
        ],
    },
    {
        "id": 4,
        "images": [],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "user", "content": [{"type": "text", "text": "Why?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Because."}]},
        ],
    },
    {
        "id": 3,
        "source": {"set": "démo", "n": 1},
        "images": [],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Say hi 😊"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Hi, ça va?"}]},
        ],
    },
]
INTERNVL = [  # InternVL's JSON lines: LLaVA's keys, sizes, lists for several images, <video>
    {"id": 0, "conversations": _qa("Name three primes.", "2, 3 and 5.")},
    {"id": 1, "image": "VG_100K_2/1.jpg", "width": 800, "height": 600, "conversations": _qa("<image>\nWhere?", "Up.")},
    {
        "id": 2,
        "image": ["a/1.jpg", "a/2.jpg"],
        "width_list": [800, 640],
        "height_list": [600, 480],
        "conversations": _qa("<image>\n<image>\nCompare them.", "Same."),
    },
    {"id": 3, "video": "clips/0001.mp4", "conversations": _qa("<video>\nDescribe the clip.", "A tram.")},
    {"id": "四", "image": "coco/1.jpg", "width": 640, "height": 480, "conversations": _qa("<image>\n说明", "Un chat.")},
]


@pytest.mark.parametrize(
    "records, name, fmt, reader",
    [
        (SHAREGPT_TAGGED, "lf.json", "sharegpt", "sharegpt json array"),
        (SHAREGPT_OPENAI, "lf_openai.jsonl", "sharegpt", "sharegpt json lines"),
        (TRL, "trl.jsonl", "messages", "messages json lines"),
        (INTERNVL, "internvl.jsonl", "internvl", "json lines"),
    ],
)
def test_each_shape_comes_back_equal_in_its_own_format(tmp_path, records, name, fmt, reader):
    text = json.dumps(records, ensure_ascii=False) if name.endswith(".json") else _as_lines(records)
    warehouse = _ingest(tmp_path, name, text)
    assert table(warehouse, "rejects") == []
    assert table(warehouse, "manifest")[0]["reader"] == reader
    out = tmp_path / "out" / name
    out.parent.mkdir()
    export(warehouse, name.split(".")[0], out, fmt, progress=False)
    written = out.read_text(encoding="utf-8")
    back = json.loads(written) if out.suffix == ".json" else [json.loads(line) for line in written.split("\n") if line]
    assert back == records


def test_a_sharegpt_file_keeps_its_keys_in_dataset_info_and_reads_as_llava(tmp_path):
    warehouse = _ingest(tmp_path, "lf_openai.jsonl", _as_lines(SHAREGPT_OPENAI))
    export(warehouse, "lf_openai", tmp_path / "lf.json", "sharegpt", progress=False)
    assert json.loads((tmp_path / "dataset_info.json").read_text())["lf"] == {
        "file_name": "lf.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }
    # In LLaVA's shape: roles human/gpt, one image as a string, the position as the id.
    export(warehouse, "lf_openai", tmp_path / "llava.json", "llava", progress=False)
    assert json.loads((tmp_path / "llava.json").read_text(encoding="utf-8")) == [
        {"id": 0, "image": "mllm_demo_data/1.jpg", "conversations": _qa("<image>Who?", "A man.")},
        {"id": 1, "conversations": _qa("Hi 😊", "Hello.")},
        # The system turn as the record's `system` key (LLaVA's trainer reads no system prompt).
        {
            "id": 2,
            "image": "cats.jpg",
            "conversations": _qa("<image>Count the cats.", "Two."),
            "system": ("You are a careful assistant."),
        },
    ]
    turns = table(warehouse, "llava_turns", order="record_index, turn")
    assert [t["role"] for t in turns] == ["human", "gpt"] * 3


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"messages": [{"role": "tool", "content": "x"}]}, 'turn 0: "role" is "tool", not user/assistant'),
        (
            {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "q"}], "system": "y"},
            'turn 0 is a system turn and the record has a "system" key too',
        ),
        ({"messages": [{"role": "system", "content": 3}]}, "turn 0: a system turn whose content is a number"),
        ({"messages": [{"role": "user", "content": "q"}], "images": [3]}, '"images" item 0 is a number, not a string'),
        ({"messages": [{"role": "user", "content": "<image>q"}], "images": []}, "placeholders in a record without"),
        ({"messages": "hello", "images": []}, '"messages" is missing or not a list'),
    ],
)
def test_sharegpt_records_that_do_not_map_are_rejected_with_their_own_json(tmp_path, record, reason):
    fine = SHAREGPT_OPENAI[1]
    warehouse = _ingest(tmp_path, "lf.jsonl", _as_lines([fine, record]))
    [reject] = table(warehouse, "rejects")
    assert reject["record_index"] == 1 and reason in reject["reason"]
    assert json.loads(reject["raw_json"]) == record


@pytest.mark.parametrize(
    "content, reason",
    [
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "two text parts in a row"),
        ([{"type": "image"}, {"type": "text", "text": ""}], "part 1 is text that would not come back as one part"),
        ([{"type": "image_url", "url": "x"}], "part 0 is neither"),
    ],
)
def test_trl_parts_that_would_not_come_back_the_same_are_rejected(tmp_path, content, reason):
    bad = {"images": ["a.jpg"], "messages": [{"role": "user", "content": content}]}
    warehouse = _ingest(tmp_path, "trl.jsonl", _as_lines([TRL[0], bad]))
    [reject] = table(warehouse, "rejects")
    assert reject["record_index"] == 1 and reject["reason"] == f"turn 0: {reason}" or reason in reject["reason"]


def test_the_shape_is_told_by_the_first_records_not_the_first_alone(tmp_path):
    # LLaMA-Factory files often begin with text-only records that have no `images` key.
    records = [{"conversations": _qa("Hi", "Hello.")}] * 3 + [SHAREGPT_TAGGED[0]]
    warehouse = _ingest(tmp_path, "lf.jsonl", _as_lines(records))
    assert table(warehouse, "rejects") == []
    assert table(warehouse, "manifest")[0]["reader"] == "sharegpt json lines"
    assert [m["path"] for m in table(warehouse, "llava_media")] == ["vg/VG_100K/1.jpg"]


def test_a_snapshot_an_older_svit_wrote_asks_for_an_ingest_before_a_build(tmp_path):
    warehouse = _ingest(tmp_path, "OneVision.json", json.dumps(MEDIA_RECORDS))
    shutil.rmtree(warehouse.snapshot() / "llava_media")  # as a snapshot from before llava_media reads
    with pytest.raises(SvitError, match=r"written by an older svit \(no llava_media table\): run `svit ingest` again"):
        build_with_manifests(warehouse, quiet=True)
    assert not warehouse.duckdb_path.exists()


def test_format_names_the_shape_when_the_first_records_do_not_tell_it(tmp_path):
    # Text-only ShareGPT records look like LLaVA's (conversations of from/value): only the user knows.
    records = [{"conversations": _qa("Hi", "Hello.")}, {"conversations": _qa("Name a prime.", "7.")}]
    source = tmp_path / "source"
    source.mkdir()
    path = source / "lf_text.jsonl"
    path.write_text(_as_lines(records), encoding="utf-8")
    warehouse = Warehouse(tmp_path / "warehouse")
    run_ingest(source, (path,), warehouse, progress=False)
    assert table(warehouse, "manifest")[0]["reader"] == "json lines"
    # Named: read again (the same bytes as another shape are another source), written back as they came.
    run_ingest(source, (path,), warehouse, progress=False, llava_format="sharegpt")
    [source_row] = table(warehouse, "manifest")
    assert (source_row["reader"], source_row["status"]) == ("sharegpt json lines", "ingested")
    export(warehouse, "lf_text", tmp_path / "back.jsonl", "sharegpt", progress=False)
    lines = (tmp_path / "back.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    # Kept when not given (another file is), with the shape it was read as.
    other = tmp_path / "other.jsonl"
    other.write_text(_as_lines(records[:1]), encoding="utf-8")
    run_ingest(source, (other,), warehouse, progress=False)
    kept = {f["name"]: (f["status"], f["shape"]) for f in warehouse.sources()}
    assert kept == {"lf_text.jsonl": ("kept", "sharegpt"), "other.jsonl": ("ingested", "")}
    proc = svit_cli("--warehouse", str(warehouse.root), "ingest", str(source), "--llava", str(path), "--format", "x")
    assert proc.returncode == 2 and "'x' is not one of 'llava', 'sharegpt', 'messages'" in proc.stderr
