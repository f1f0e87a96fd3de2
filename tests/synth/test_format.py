"""The generated corpus reads like the real files, and GROUND_TRUTH matches an independent recount."""

from __future__ import annotations

import json
import re
from collections import Counter

from svit.core import baai_procedure
from svit.core.facts import (
    DETAIL_QUESTIONS,
    IMAGE_TOKEN,
    LLAVA_MIX665K_PARTS,
    REFERRING_INSTRUCTIONS,
    SHORT_ANSWER_SUFFIX,
    TASKS,
)

# Parsed here on purpose without the generator's or the procedure's regex.
MARK = re.compile(r"<st>([^<]+)<ed>((?: \[[^\]]*\],?)+)")
BOX = re.compile(r"\[(\d+(?:\.\d+)?), (\d+(?:\.\d+)?), (\d+(?:\.\d+)?), (\d+(?:\.\d+)?)\]")
SHAPES = {  # blocks per image, QA pairs per block
    "conversation": ((2, 4), (3, 6)),
    "complex_reasoning": ((12, 18), (1, 1)),
    "detail_description": ((1, 1), (1, 1)),
    "referring_qa": ((7, 13), (1, 1)),
}


def _image_ids(load) -> list[int]:
    return [e["image_id"] for e in load("raw/annotations/vg/image_data.json")]


def test_data_files_are_json_dump_defaults(corpus, load):
    for task in TASKS:
        text = (corpus / "data" / f"{task}.json").read_text()
        assert text == json.dumps(load(f"data/{task}.json"))
        assert text.isascii()


def test_llava_files_have_their_declared_layout(corpus, load):
    for relpath, indent in [
        ("format/llava-v1.5/SVIT_core_150K.json", 4),
        ("format/llava-v1.5/SVIT_mix_665K.json", 4),
        ("llava/llava_v1_5_mix665k.json", 2),
        ("llava/llava_instruct_150k.json", 2),
    ]:
        text = (corpus / relpath).read_text(encoding="utf-8")
        assert text == json.dumps(load(relpath), indent=indent, ensure_ascii=False), relpath
    assert (corpus / "GROUND_TRUTH.json").read_text() == json.dumps(
        load("GROUND_TRUTH.json"), sort_keys=True, indent=2
    ) + "\n"


def test_original_records_have_svit_shape(load, truth):
    order = {image_id: k for k, image_id in enumerate(_image_ids(load))}
    for task in TASKS:
        items = load(f"data/{task}.json")
        positions = [order[item["image_id"]] for item in items]
        assert positions == sorted(set(positions)), "image order follows image_data, no repeats"
        for item in items:
            assert list(item) == ["image_id", "conversations"]
            (lo, hi), (qlo, qhi) = SHAPES[task]
            assert lo <= len(item["conversations"]) <= hi
            for b, block in enumerate(item["conversations"]):
                assert set(block) - {"content"} <= {"topic", "source"}
                roles = [t["from"] for t in block["content"]]
                assert roles == ["user", "gpt"] * (len(roles) // 2) and roles
                if not (item["image_id"] == 1 and b == 0):  # SVIT's own block may differ
                    assert qlo <= len(roles) // 2 <= qhi
                for turn in block["content"]:
                    assert list(turn) == ["from", "value"] and IMAGE_TOKEN not in turn["value"]
                    assert turn["value"] == turn["value"].strip()


def test_detail_descriptions(load):
    for item in load("data/detail_description.json"):
        question, answer = (t["value"] for t in item["conversations"][0]["content"])
        assert question in DETAIL_QUESTIONS
        if item["image_id"] != 1:  # SVIT's own description has 8 paragraphs, ~420 words
            assert 1 <= answer.count("\n") <= 3
            assert 150 <= len(answer.split()) <= 300


def test_recount_matches_ground_truth(load, truth):
    images = _image_ids(load)
    assert truth["images"] == len(images)
    covered = set()
    for task in TASKS:
        items = load(f"data/{task}.json")
        covered |= {i["image_id"] for i in items}
        blocks = [b for i in items for b in i["conversations"]]
        turns = sum(len(b["content"]) for b in blocks)
        assert truth["images_per_task"][task] == len(items)
        assert truth["images_missing_per_task"][task] == len(images) - len(items) >= 1
        assert truth["blocks_per_task"][task] == len(blocks)
        assert truth["turns_per_task"][task] == turns
        assert truth["qa_pairs_per_task"][task] == turns // 2
        assert truth["blocks_with_extra_keys"][task] == sum(len(b) > 1 for b in blocks)
        extra = Counter(k for b in blocks for k in b if k != "content")
        assert truth["extra_keys_per_task"][task] == dict(extra)
    assert truth["extra_keys_per_task"]["conversation"]["topic"] >= 1
    assert truth["extra_keys_per_task"]["complex_reasoning"]["source"] >= 1
    assert (
        sorted(set(images) - covered) == truth["images_without_svit_data"]
        and len(truth["images_without_svit_data"]) == 1
    )
    detail = {i["image_id"] for i in load("data/detail_description.json")}
    assert truth["images_without_detail"] == len(set(images) - detail)
    answers = [b["content"][1]["value"] for i in load("data/complex_reasoning.json") for b in i["conversations"]]
    assert truth["complex_reasoning_answers_starting"] == {
        "yes": sum(a.startswith("Yes, ") for a in answers),
        "no": sum(a.startswith("No, ") for a in answers),
    }
    assert truth["complex_reasoning_answers_starting"]["no"] > 0


def test_referring_marks_and_boxes_agree_with_objects(load, truth):
    meta = {e["image_id"]: e for e in load("raw/annotations/vg/image_data.json")}
    object_boxes = {}
    for entry in load("raw/annotations/vg/objects.json"):
        m = meta[entry["image_id"]]
        object_boxes[entry["image_id"]] = {
            f"[{round(o['x'] / m['width'], 3)}, {round(o['y'] / m['height'], 3)}, "
            f"{round((o['x'] + o['w']) / m['width'], 3)}, {round((o['y'] + o['h']) / m['height'], 3)}]"
            for o in entry["objects"]
        }
    marks = boxes = 0
    values = Counter()
    for item in load("data/referring_qa.json"):
        for block in item["conversations"]:
            for turn in block["content"]:
                found = MARK.findall(turn["value"])
                assert 1 <= len(found) <= 3
                assert turn["value"].count("<st>") == turn["value"].count("<ed>") == len(found)
                marks += len(found)
                for _phrase, box_text in found:
                    box_strings = re.findall(r"\[[^\]]*\]", box_text)
                    assert 1 <= len(box_strings) <= 3
                    for s in box_strings:
                        x1, y1, x2, y2 = map(float, BOX.fullmatch(s).groups())
                        assert 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1
                        assert all(len(v.split(".")[1]) <= 3 for v in BOX.fullmatch(s).groups())
                        assert s in object_boxes[item["image_id"]]
                        values.update(BOX.fullmatch(s).groups())
                        boxes += 1
    assert truth["marks_total"] == marks and truth["boxes_total"] == boxes
    assert values["0.0"] > 0 and values["1.0"] > 0


def test_raw_annotations(load, truth):
    images = load("raw/annotations/vg/image_data.json")
    ids = [e["image_id"] for e in images]
    assert ids == sorted(set(ids)) and ids[0] == 1
    assert max(b - a for a, b in zip(ids, ids[1:], strict=False)) > 1, "ids have gaps"
    for e in images:
        assert list(e) == ["image_id", "url", "width", "height", "coco_id", "flickr_id"]
        assert 200 <= e["width"] <= 1280 and 200 <= e["height"] <= 1280
        assert re.fullmatch(rf"https://cs\.stanford\.edu/people/rak248/VG_100K(_2)?/{e['image_id']}\.jpg", e["url"])
    shapes = Counter((e["width"] > e["height"]) - (e["width"] < e["height"]) for e in images)
    assert shapes[1] > shapes[-1] > 0 and shapes[0] > 0
    assert [o["image_id"] for o in load("raw/annotations/vg/objects.json")] == ids
    assert [r["id"] for r in load("raw/annotations/vg/region_descriptions.json")] == ids
    object_ids = [o["object_id"] for e in load("raw/annotations/vg/objects.json") for o in e["objects"]]
    assert len(object_ids) == len(set(object_ids))
    coco = load("raw/annotations/coco/captions_train2017.json")
    with_coco = [e["coco_id"] for e in images if e["coco_id"] is not None]
    assert [i["id"] for i in coco["images"]] == with_coco and 0 < len(with_coco) < len(images)
    assert Counter(a["image_id"] for a in coco["annotations"]) == {c: 5 for c in with_coco}
    assert truth["coco"] == {"images": len(with_coco), "captions": 5 * len(with_coco)}


def test_core_records_are_baai_conversions_of_distinct_original_blocks(load, truth):
    meta = {e["image_id"]: e for e in load("raw/annotations/vg/image_data.json")}
    blocks = {}
    for task in TASKS:
        for item in load(f"data/{task}.json"):
            for b, block in enumerate(item["conversations"]):
                blocks.setdefault(item["image_id"], []).append((task, b, block))
    core = load("format/llava-v1.5/SVIT_core_150K.json")
    assert len(core) == truth["core"]["records"] == sum(truth["core"]["records_per_task"].values())
    used, per_task, instructions = set(), Counter(), Counter()
    for record in core:
        assert list(record) == ["id", "image", "conversations"]
        assert re.fullmatch(r"SVIT_\d{6}", record["id"])
        folder, name = record["image"].split("/")[1:]
        image_id = int(name.removesuffix(".jpg"))
        m = meta[image_id]
        assert record["image"] == baai_procedure.image_path(m["url"].split("/")[-2], image_id)
        question = record["conversations"][0]["value"]
        instruction = next((i for i in REFERRING_INSTRUCTIONS if question.endswith(" " + i)), None)

        def instruction_for(_turn: int, chosen: str | None = instruction) -> str | None:
            return chosen

        matches = [
            (task, b)
            for task, b, block in blocks[image_id]
            if (task == "referring_qa") == (instruction is not None)
            and baai_procedure.to_llava_record(
                task, image_id, b, block, record["image"], m["width"], m["height"], instruction_for, record["id"]
            )
            == record
        ]
        assert len(matches) == 1, record["id"]
        assert (image_id, *matches[0]) not in used
        used.add((image_id, *matches[0]))
        per_task[matches[0][0]] += 1
        if matches[0][0] == "referring_qa":
            instructions[instruction] += 1
            assert "<st>" not in question and "<ed>" not in question
    assert len({r["id"] for r in core}) == len(core)
    assert dict(per_task) == truth["core"]["records_per_task"]
    assert truth["core"]["single_qa_records"] == len(core) - per_task["conversation"]
    assert {k: v for k, v in truth["core"]["referring_instructions"].items() if v} == dict(instructions)
    runs = sum(1 for a, b in zip(core, core[1:], strict=False) if a["id"] > b["id"])
    assert runs > 0, "file order is shuffled, not by id"


def _part_slices(truth) -> dict[str, slice]:
    out, start = {}, 0
    for part, _, _ in LLAVA_MIX665K_PARTS:
        n = truth["llava_mix665k"]["records_per_part"][part]
        out[part] = slice(start, start + n)
        start += n
    return out


def test_mix665k_keeps_the_llava_quirks(load, truth):
    mix = load("llava/llava_v1_5_mix665k.json")
    parts = _part_slices(truth)
    assert len(mix) == truth["llava_mix665k"]["records"] == sum(truth["llava_mix665k"]["records_per_part"].values())
    prefixes = {part: prefix for part, _, prefix in LLAVA_MIX665K_PARTS}
    for part, sl in parts.items():
        for record in mix[sl]:
            turns = record["conversations"]
            assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
            text = "".join(t["value"] for t in turns)
            if prefixes[part] is None:
                assert list(record) == ["id", "model", "conversations"] and record["model"] == ""
                assert IMAGE_TOKEN not in text
            else:
                assert list(record) == ["id", "image", "conversations"]
                assert record["image"].startswith(prefixes[part] + "/")
                first = turns[0]["value"]
                assert text.count(IMAGE_TOKEN) == 1
                assert first.startswith(IMAGE_TOKEN + "\n") or first.endswith("\n" + IMAGE_TOKEN)
            assert isinstance(record["id"], int) == (part == "gqa")
    ids = Counter((type(r["id"]).__name__, r["id"]) for r in mix)
    repeated = [n for n in ids.values() if n > 1]
    summary = truth["llava_mix665k"]
    assert summary["repeated_ids"] == len(repeated) > 0
    assert summary["records_with_repeated_id"] == sum(repeated)
    assert summary["integer_id_records"] == sum(isinstance(r["id"], int) for r in mix) > 0
    assert summary["records_without_image"] == sum("image" not in r for r in mix) > 0
    prefix_count = Counter(r["image"].split("/")[0] if "image" in r else "none" for r in mix)
    assert summary["records_per_image_prefix"] == dict(prefix_count)
    assert (
        summary["image_token_after_question_records"]
        == sum(r["conversations"][0]["value"].endswith("\n" + IMAGE_TOKEN) for r in mix if "image" in r)
        > 0
    )
    everything = json.dumps(mix, ensure_ascii=False)
    for needle in (
        "é",
        "中文",
        "😀" if "😀" in everything else "😴",
        '\\"',
        "\\\\",
        "\\n",
        SHORT_ANSWER_SUFFIX.strip(),
    ):
        assert needle in everything, needle
    vg = [r for r in mix[parts["vg"]] if not r["id"].startswith("VG_100K_2/2412354")]
    assert all(re.fullmatch(r"VG_100K(_2)?/\d+", r["id"]) for r in vg)
    assert all(re.fullmatch(r"\d{12}", r["id"]) for r in mix[parts["llava_instruct"]])


def test_llava_instruct_150k_is_the_mix_part(load, truth):
    mix = load("llava/llava_v1_5_mix665k.json")
    instruct = load("llava/llava_instruct_150k.json")
    assert instruct == mix[_part_slices(truth)["llava_instruct"]]
    assert truth["llava_instruct_150k"]["records"] == len(instruct)
    assert truth["llava_instruct_150k"]["repeated_ids"] > 0


def test_svit_mix_665k_replaces_the_llava_instruct_part_by_the_core(load, truth):
    mix = load("llava/llava_v1_5_mix665k.json")
    core = load("format/llava-v1.5/SVIT_core_150K.json")
    svit_mix = load("format/llava-v1.5/SVIT_mix_665K.json")
    instruct = _part_slices(truth)["llava_instruct"]
    assert instruct.start == 0
    assert len(svit_mix) == len(mix) == truth["svit_mix_665k"]["records"]
    assert svit_mix == core + mix[instruct.stop :]
    prefix_count = Counter(r["image"].split("/")[0] if "image" in r else "none" for r in svit_mix)
    assert truth["svit_mix_665k"]["records_per_image_prefix"] == dict(prefix_count)
