"""`svit export --format messages|parquet|sharegpt|internvl|qwen`: the shapes trainers and `datasets` read."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.pipeline import run_ingest
from svit.cli import EXPORT_FORMATS
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse
from svit.export import FORMATS, export
from tests.helpers import (
    LLAVA_MIX665K,
    OFFICIAL,
    llava_records_of_file,
    one_line_error,
    query,
    svit_cli,
    table,
    vg_image,
    warehouse_of,
    write_corpus,
)


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
    with pytest.raises(SvitError, match="holds files that are not an export"):
        export(built_sample, "svit_core_150k", tmp_path, "parquet", progress=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"


# --------------------------------------------------------------------------- shared by the formats below


def _exported(out) -> list[dict]:
    """An export's records: one per line for a .jsonl file, else the JSON array."""
    text = out.read_text(encoding="utf-8")
    if out.suffix == ".jsonl":
        assert text.endswith("\n") and not text.startswith("[")
        # Split at "\n" only: str.splitlines also splits at U+2028, U+001C..., which JSON leaves in strings.
        return [json.loads(line) for line in text[:-1].split("\n")]
    assert text.startswith("[") and text.endswith("]")
    return json.loads(text)


def _source(warehouse, model: str) -> list[dict]:
    """The records of `model` as LLaVA has them (independent of the export's query)."""
    if model == "llava_v1_5_mix665k":
        return llava_records_of_file(LLAVA_MIX665K)
    rows = query(warehouse, f"select id, image, conversations from {model} order by record_order")
    return [
        {"id": i, **({"image": img} if img is not None else {}), "conversations": [dict(t) for t in turns]}
        for i, img, turns in rows
    ]


def _turns(record: dict) -> list[dict]:
    return [{"from": t["from"], "value": t["value"]} for t in record["conversations"]]


def _tokens(record: dict) -> int:
    return sum(t["value"].count("<image>") for t in record["conversations"])


def _turn(role: str, value: str) -> dict:
    return {"from": role, "value": value}


def _qa(question: str, answer: str) -> list[dict]:
    return [_turn("human", question), _turn("gpt", answer)]


_PROBLEM = re.compile(r"(records [^:;]+): ([\d,]+) \(ids: ([^()]*)\)")


def _problems(message: str) -> dict[str, tuple[int, list[str]]]:
    """The problems an export names (`records with ...: 3 (ids: "a", 7, ...)`): reason -> (how
    many records, the ids shown)."""
    found = {}
    for reason, n, ids in _PROBLEM.findall(message):
        ids = ids.removesuffix("...").removesuffix(", ")
        found[reason] = (int(n.replace(",", "")), [i.strip('"') for i in ids.split(", ") if i])
    return found


def _problem(message: str, phrase: str) -> tuple[int, list[str]]:
    """The only problem of `message`, whose reason holds `phrase`."""
    [(reason, entry)] = _problems(message).items()
    assert phrase in reason, message
    return entry


@pytest.fixture(scope="module")
def bad_tokens(tmp_path_factory) -> Warehouse:
    """A warehouse holding `Bad-Tokens.json` (model `bad_tokens`): <image> counts that trainers reject."""
    records = [
        {"id": "fine", "image": "vg/VG_100K/1.jpg", "conversations": _qa("<image>\nq", "a")},
        {"id": "two_tokens", "image": "vg/VG_100K/2.jpg", "conversations": _qa("<image>\n<image>\nq", "a")},
        {"id": 41, "conversations": _qa("text only <image>", "a")},
        {"id": "no_token", "image": "vg/VG_100K/3.jpg", "conversations": _qa("q", "a")},
    ]
    return warehouse_of(tmp_path_factory, "Bad-Tokens.json", records)[0]


def test_placeholder_counts_that_no_trainer_takes_are_rejected_at_ingest(bad_tokens):
    # Two marks for one image, a mark without media: ingest rejects them (ingest/llava.py);
    # one image without a mark is kept (implicit), and the formats that need the mark refuse it.
    assert [(r["record_index"], r["reason"]) for r in table(bad_tokens, "rejects", order="record_index")] == [
        (1, "2 <image>/<video> placeholders for 1 medium"),
        (2, "1 <image>/<video> placeholders in a record without media"),
    ]
    assert [r["id"] for r in table(bad_tokens, "llava_records", order="record_index")] == ["fine", "no_token"]


@pytest.fixture(scope="module")
def answer_tokens(tmp_path_factory) -> Warehouse:
    """A warehouse holding `Answer-Tokens.json` (model `answer_tokens`): <image> in answers."""
    records = [
        {"id": "fine", "image": "vg/VG_100K/1.jpg", "conversations": _qa("<image>\nq", "a")},
        # One mark for one image, standing in the answer: ingest keeps it (the count is right).
        {"id": "answer_too", "image": "vg/VG_100K/2.jpg", "conversations": _qa("q", "see <image>")},
        {"id": 7, "image": "vg/VG_100K/3.jpg", "conversations": _qa("q", "<image>")},
    ]
    return warehouse_of(tmp_path_factory, "Answer-Tokens.json", records)[0]


# --------------------------------------------------------------------------- sharegpt (LLaMA-Factory)

DATASET_INFO_COLUMNS = {"messages": "conversations", "images": "images"}


@pytest.mark.parametrize("model", ["llava_v1_5_mix665k", "llava_svit_all"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_sharegpt_records(built_sample, tmp_path, model, suffix):
    out = tmp_path / f"{model}{suffix}"
    result = export(built_sample, model, out, "sharegpt", progress=False)
    source = _source(built_sample, model)
    records = _exported(out)
    assert result.records == len(records) == len(source)
    assert result.notes == []
    expected = [
        {"id": str(s["id"]), "conversations": _turns(s), "images": [s["image"]] if "image" in s else []} for s in source
    ]
    assert records == expected
    assert all(list(r) == ["id", "conversations", "images"] for r in records)
    assert all(isinstance(r["id"], str) for r in records)
    assert all(_tokens(r) == len(r["images"]) for r in records)
    if model == "llava_v1_5_mix665k":  # both id types, text-only records and `<image>` after the question
        assert any(isinstance(s["id"], int) for s in source)
        assert sum(r["images"] == [] for r in records) == sum("image" not in s for s in source) > 0
        assert any(r["conversations"][0]["value"].endswith("\n<image>") for r in records)
    registry = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert registry == {model: {"file_name": out.name, "formatting": "sharegpt", "columns": DATASET_INFO_COLUMNS}}
    assert result.side_files == [tmp_path / "dataset_info.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "dataset_info.json"])


def test_sharegpt_dataset_info_keeps_the_other_entries(built_sample, tmp_path):
    info = tmp_path / "dataset_info.json"
    demo = {"file_name": "mllm_demo.json", "formatting": "sharegpt", "tags": {"role_tag": "role"}}
    info.write_text(json.dumps({"mllm_demo": demo, "core": {"file_name": "old.json"}}), encoding="utf-8")
    out = tmp_path / "svit_core.jsonl"
    export(built_sample, "svit_core_150k", out, "sharegpt", dataset_name="core", progress=False)
    entry = {"file_name": "svit_core.jsonl", "formatting": "sharegpt", "columns": DATASET_INFO_COLUMNS}
    assert json.loads(info.read_text(encoding="utf-8")) == {"mllm_demo": demo, "core": entry}
    # Without --dataset-name: the file's name without its suffix; the entries before are kept.
    export(built_sample, "svit_core_150k", tmp_path / "core_150k.json", "sharegpt", progress=False)
    assert json.loads(info.read_text(encoding="utf-8")) == {
        "mllm_demo": demo,
        "core": entry,
        "core_150k": {"file_name": "core_150k.json", "formatting": "sharegpt", "columns": DATASET_INFO_COLUMNS},
    }


@pytest.mark.parametrize(
    "name, entry", [("core_150k.sharegpt.jsonl", "core_150k.sharegpt"), (".core.json", ".core"), ("core", "core")]
)
def test_default_dataset_name_is_the_file_name_without_its_suffix(built_sample, tmp_path, name, entry):
    export(built_sample, "svit_core_150k", tmp_path / name, "sharegpt", progress=False)
    registry = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert list(registry) == [entry] and registry[entry]["file_name"] == name


def test_default_meta_name_is_the_file_name_without_its_suffix(built_sample, tmp_path):
    export(built_sample, "svit_core_150k", tmp_path / "core_150k.internvl.jsonl", "internvl", progress=False)
    meta = json.loads((tmp_path / "internvl_meta.json").read_text(encoding="utf-8"))
    assert list(meta) == ["core_150k.internvl"] and meta["core_150k.internvl"]["length"] == 438


@pytest.mark.parametrize("fmt, registry", [("sharegpt", "dataset_info.json"), ("internvl", "internvl_meta.json")])
def test_a_registry_that_is_not_a_json_object_is_refused_before_writing(built_sample, tmp_path, fmt, registry):
    (tmp_path / registry).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SvitError, match="not a JSON object"):
        export(built_sample, "svit_core_150k", tmp_path / "core.jsonl", fmt, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [registry]
    assert (tmp_path / registry).read_text(encoding="utf-8") == "[1, 2]"


def test_sharegpt_refuses_records_whose_image_tokens_differ_from_their_images(bad_tokens, tmp_path):
    info = tmp_path / "dataset_info.json"
    info.write_text('{"other": {"file_name": "other.json"}}', encoding="utf-8")
    out = tmp_path / "bad.json"
    out.write_text("previous")
    with pytest.raises(SvitError) as caught:
        export(bad_tokens, "bad_tokens", out, "sharegpt", progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("bad_tokens cannot be written as sharegpt: ")
    assert _problem(message, "<image> tokens are not as many as their images") == (1, ["no_token"])
    assert out.read_text() == "previous"
    assert info.read_text(encoding="utf-8") == '{"other": {"file_name": "other.json"}}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "dataset_info.json"]


def test_cli_sharegpt_refusal_is_one_line_and_writes_nothing(bad_tokens, tmp_path):
    out = tmp_path / "bad.jsonl"
    proc = svit_cli(
        "export", "bad_tokens", "--out", str(out), "--format", "sharegpt", "--warehouse", str(bad_tokens.root)
    )
    line = one_line_error(proc)
    assert line.startswith("svit: bad_tokens cannot be written as sharegpt: ")
    assert _problem(line, "<image> tokens are not as many as their images") == (1, ["no_token"])
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- internvl


def _vg_sizes(warehouse) -> dict[str, tuple[int, int]]:
    return {path: (w, h) for path, w, h in query(warehouse, "select image_path, width, height from stg_svit__images")}


def test_internvl_records_carry_the_image_sizes_of_the_images_table(built_sample, tmp_path):
    out = tmp_path / "svit_all.jsonl"
    result = export(built_sample, "llava_svit_all", out, "internvl", progress=False)
    source = _source(built_sample, "llava_svit_all")
    sizes = _vg_sizes(built_sample)
    records = _exported(out)
    assert result.records == len(records) == len(source) > 0
    assert result.notes == []  # every image of SVIT is in image_data.json
    expected = [
        {
            "id": s["id"],
            "image": s["image"],
            "width": sizes[s["image"]][0],
            "height": sizes[s["image"]][1],
            "conversations": _turns(s),
        }
        for s in source
    ]
    assert records == expected
    assert all(list(r) == ["id", "image", "width", "height", "conversations"] for r in records)
    assert len({(r["width"], r["height"]) for r in records}) > 1


def test_internvl_keeps_id_types_leaves_out_text_only_keys_and_counts_unknown_sizes(built_sample, tmp_path):
    out = tmp_path / "mix665k.jsonl"
    result = export(built_sample, "llava_v1_5_mix665k", out, "internvl", progress=False)
    source = llava_records_of_file(LLAVA_MIX665K)
    known = set(_vg_sizes(built_sample)) | {
        f"coco/{r['split']}/{r['file_name']}" for r in table(built_sample, "coco_captions")
    }
    records = _exported(out)
    assert len(records) == len(source)
    for rec, src in zip(records, source, strict=True):
        assert rec["id"] == src["id"] and type(rec["id"]) is type(src["id"])
        assert rec["conversations"] == _turns(src)
        if "image" not in src:
            assert list(rec) == ["id", "conversations"]
        elif src["image"] in known:
            assert list(rec) == ["id", "image", "width", "height", "conversations"]
        else:
            assert list(rec) == ["id", "image", "conversations"] and rec["image"] == src["image"]
    unknown = sum("image" in s and s["image"] not in known for s in source)
    assert unknown > 0 and any(isinstance(r["id"], int) for r in records)
    [note] = result.notes
    first = [str(s["id"]) for s in source if "image" in s and s["image"] not in known][:5]
    assert _problem(note, "image size is unknown, written without width/height") == (unknown, first)


@pytest.fixture(scope="module")
def sized(tmp_path_factory) -> Warehouse:
    """A warehouse with two VG images and a COCO image of known size, and `Sized.json` (model `sized`)."""
    source = write_corpus(
        tmp_path_factory.mktemp("sized_source"), {}, [vg_image(1, 640, 480), vg_image(2, 1024, 768, "VG_100K_2")]
    )
    coco = source / "raw" / "annotations" / "coco"
    coco.mkdir(parents=True)
    captions = {
        "images": [{"id": 9, "file_name": "000000000009.jpg", "width": 640, "height": 427}],
        "annotations": [{"id": 1, "image_id": 9, "caption": "A plate."}],
    }
    (coco / "captions_train2017.json").write_text(json.dumps(captions))
    records = [
        {"id": "a", "image": "vg/VG_100K/1.jpg", "conversations": _qa("<image>\nq", "a")},
        {"id": 5, "image": "vg/VG_100K_2/2.jpg", "conversations": _qa("q\n<image>", "a")},
        {"id": "unknown", "image": "vg/VG_100K/999.jpg", "conversations": _qa("<image>\nq", "a")},
        {"id": 6, "conversations": _qa("q", "a")},
        {"id": "coco", "image": "coco/train2017/000000000009.jpg", "conversations": _qa("q", "a")},  # no token
    ]
    path = source / "Sized.json"
    path.write_text(json.dumps(records))
    warehouse = Warehouse(tmp_path_factory.mktemp("sized_warehouse"))
    run_ingest(source, (path,), warehouse, progress=False)
    return warehouse


def test_internvl_sizes_exact_records_and_meta_entry(sized, tmp_path):
    out = tmp_path / "sized.jsonl"
    result = export(sized, "sized", out, "internvl", image_root="/data/images/", progress=False)
    assert out.read_text(encoding="utf-8").splitlines() == [
        '{"id":"a","image":"vg/VG_100K/1.jpg","width":640,"height":480,'
        '"conversations":[{"from":"human","value":"<image>\\nq"},{"from":"gpt","value":"a"}]}',
        '{"id":5,"image":"vg/VG_100K_2/2.jpg","width":1024,"height":768,'
        '"conversations":[{"from":"human","value":"q\\n<image>"},{"from":"gpt","value":"a"}]}',
        '{"id":"unknown","image":"vg/VG_100K/999.jpg",'
        '"conversations":[{"from":"human","value":"<image>\\nq"},{"from":"gpt","value":"a"}]}',
        '{"id":6,"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"a"}]}',
        '{"id":"coco","image":"coco/train2017/000000000009.jpg","width":640,"height":427,'
        '"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"a"}]}',
    ]
    assert result.records == 5
    [note] = result.notes
    assert _problem(note, "image size is unknown, written without width/height") == (1, ["unknown"])
    meta = tmp_path / "internvl_meta.json"
    assert result.side_files == [meta]
    entry = {"root": "/data/images/", "annotation": str(out), "data_augment": False, "repeat_time": 1, "length": 5}
    assert json.loads(meta.read_text(encoding="utf-8")) == {"sized": entry}
    # Another export under another name: the first entry is kept; the default root is empty.
    export(sized, "sized", tmp_path / "again.jsonl", "internvl", dataset_name="second", progress=False)
    again = {**entry, "root": "", "annotation": str(tmp_path / "again.jsonl")}
    assert json.loads(meta.read_text(encoding="utf-8")) == {"sized": entry, "second": again}


def test_internvl_meta_annotation_is_absolute_through_the_cli(sized, tmp_path):
    proc = svit_cli(
        "export", "sized", "--out", "rel.jsonl", "--format", "internvl", "--warehouse", str(sized.root), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads((tmp_path / "internvl_meta.json").read_text(encoding="utf-8")).values()
    assert entry["annotation"] == str(tmp_path / "rel.jsonl") and entry["length"] == 5


def test_internvl_writes_an_image_without_its_token(bad_tokens, tmp_path):
    out = tmp_path / "bad.jsonl"
    export(bad_tokens, "bad_tokens", out, "internvl", progress=False)
    # `no_token` is written: InternVL puts a missing <image> in front of the first turn. More
    # tokens than images never reach an export: ingest rejects them.
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["fine", "no_token"]


def test_internvl_refuses_an_out_that_is_not_jsonl(built_sample, tmp_path):
    with pytest.raises(SvitError, match=r"^--format internvl writes JSON lines: give --out a \.jsonl name"):
        export(built_sample, "svit_core_150k", tmp_path / "core.json", "internvl", progress=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- qwen


@pytest.mark.parametrize("model", ["llava_v1_5_mix665k", "llava_svit_all"])
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_qwen_records(built_sample, tmp_path, model, suffix):
    out = tmp_path / f"{model}{suffix}"
    result = export(built_sample, model, out, "qwen", progress=False)
    source = _source(built_sample, model)
    records = _exported(out)
    assert result.records == len(records) == len(source)
    assert records == [{**({"image": s["image"]} if "image" in s else {}), "conversations": _turns(s)} for s in source]
    assert all(list(r) in (["image", "conversations"], ["conversations"]) for r in records)
    assert result.side_files == [] and [p.name for p in tmp_path.iterdir()] == [out.name]


def test_qwen_refuses_image_tokens_in_answers(answer_tokens, tmp_path):
    out = tmp_path / "answers.json"
    with pytest.raises(SvitError) as caught:
        export(answer_tokens, "answer_tokens", out, "qwen", progress=False)
    message = str(caught.value)
    assert message.startswith("answer_tokens cannot be written as qwen: ")
    problems = _problems(message)
    assert problems["records with <image> in an answer"] == (2, ["answer_too", "7"])
    # Their questions hold no mark for their image either.
    assert problems["records whose <image> tokens in questions are not as many as their images"] == (
        2,
        ["answer_too", "7"],
    )
    assert list(tmp_path.iterdir()) == []


def test_qwen_refuses_question_tokens_that_differ_from_the_images(bad_tokens, tmp_path):
    with pytest.raises(SvitError) as caught:
        export(bad_tokens, "bad_tokens", tmp_path / "bad.jsonl", "qwen", progress=False)
    message = str(caught.value)
    assert message.startswith("bad_tokens cannot be written as qwen: ")
    assert _problem(message, "<image> tokens in questions are not as many as their images") == (1, ["no_token"])
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- messages


def test_messages_image_parts_have_no_text_key(built_sample, tmp_path):
    out = tmp_path / "mix.messages.jsonl"
    export(built_sample, "llava_v1_5_mix665k", out, "messages", progress=False)
    parts = [p for record in _exported(out) for m in record["messages"] for p in m["content"]]
    images = [p for p in parts if p["type"] == "image"]
    assert images and all(p == {"type": "image"} for p in images)
    assert all(list(p) == ["type", "text"] and isinstance(p["text"], str) for p in parts if p["type"] == "text")
    assert {p["type"] for p in parts} == {"image", "text"}
    assert b"null" not in out.read_bytes()


# --------------------------------------------------------------------------- --ascii

COMPACT = (",", ":")


@pytest.mark.parametrize(
    "fmt, name",
    [
        ("sharegpt", "x.json"),
        ("sharegpt", "x.jsonl"),
        ("internvl", "x.jsonl"),
        ("messages", "x.jsonl"),
        ("qwen", "x.json"),
    ],
)
@pytest.mark.parametrize("which", ["tricky", "mix665k"])
def test_ascii_is_the_same_records_escaped(request, tmp_path, fmt, name, which):
    warehouse, model = (
        (request.getfixturevalue("tricky")[0], "tricky_values")
        if which == "tricky"
        else (request.getfixturevalue("built_sample"), "llava_v1_5_mix665k")
    )
    (tmp_path / "plain").mkdir()
    (tmp_path / "ascii").mkdir()
    plain, ascii_ = tmp_path / "plain" / name, tmp_path / "ascii" / name
    export(warehouse, model, plain, fmt, progress=False)
    export(warehouse, model, ascii_, fmt, ensure_ascii=True, progress=False)
    raw = ascii_.read_bytes()
    assert raw.isascii() and not plain.read_bytes().isascii()
    records = _exported(plain)
    assert _exported(ascii_) == records
    # Byte for byte: compact JSON as json.dumps writes it, escaped or not.
    if name.endswith(".jsonl"):
        assert plain.read_text(encoding="utf-8") == "".join(
            json.dumps(r, ensure_ascii=False, separators=COMPACT) + "\n" for r in records
        )
        assert raw.decode() == "".join(json.dumps(r, separators=COMPACT) + "\n" for r in records)
    else:
        assert (
            plain.read_text(encoding="utf-8")
            == "[" + ", ".join(json.dumps(r, ensure_ascii=False, separators=COMPACT) for r in records) + "]"
        )
        assert raw.decode() == "[" + ", ".join(json.dumps(r, separators=COMPACT) for r in records) + "]"


# --------------------------------------------------------------------------- svit mix --export --format


def test_cli_mix_exports_in_the_format(built_sample, tmp_path):
    out = tmp_path / "core.json"
    proc = svit_cli(
        "mix", "mix_svit_core_150k", "--export", str(out), "--format", "sharegpt", "--warehouse", str(built_sample.root)
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}: 438 records of mix_svit_core_150k as sharegpt" in proc.stdout
    official = json.loads((OFFICIAL / "SVIT_core_150K.json").read_text(encoding="utf-8"))
    assert _exported(out) == [
        {"id": str(r["id"]), "conversations": _turns(r), "images": [r["image"]]} for r in official
    ]
    (tmp_path / "api").mkdir()
    same = tmp_path / "api" / "core.json"
    export(built_sample, "mix_svit_core_150k", same, "sharegpt", progress=False)
    assert out.read_bytes() == same.read_bytes()
    registry = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert registry == {"core": {"file_name": "core.json", "formatting": "sharegpt", "columns": DATASET_INFO_COLUMNS}}


def test_cli_mix_format_without_export_is_an_error(built_sample, tmp_path):
    proc = svit_cli(
        "mix", "mix_svit_core_150k", "--format", "sharegpt", "--warehouse", str(built_sample.root), cwd=tmp_path
    )
    assert one_line_error(proc) == (
        "svit: --format, --indent, --ascii, --dataset-name and --image-root shape --export: give --export FILE"
    )
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the CLI's list of formats


def test_cli_lists_the_export_formats_in_order():
    assert list(EXPORT_FORMATS) == list(FORMATS)
