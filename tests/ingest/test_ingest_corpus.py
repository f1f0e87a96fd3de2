"""Ingest of a generated corpus: row counts equal the generator's ground truth, values equal an independent parse."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import duckdb

from tests.helpers import REPO, count, table
from tests.stats.test_stats_numbers import words

TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")


def test_blocks_turns_and_images_match_ground_truth(corpus, ingested):
    _, truth = corpus
    for task in TASKS:
        assert count(ingested, "conversations", f"task = '{task}'") == truth["blocks_per_task"][task], task
        assert count(ingested, "turns", f"task = '{task}'") == truth["turns_per_task"][task], task
    assert count(ingested, "images") == truth["images"]
    assert count(ingested, "rejects") == 0


def test_boxes_match_ground_truth_counts(corpus, ingested):
    _, truth = corpus
    assert count(ingested, "boxes") == truth["boxes_total"]
    marks = table(ingested, "boxes", order="all")
    assert len({(b["image_id"], b["block"], b["turn"], b["mark_index"]) for b in marks}) == truth["marks_total"]


def _python_boxes(corpus_dir):
    """An independent parse of data/referring_qa.json with Python's re."""
    mark = re.compile(r"<st>(.*?)<ed>( ?)((?:\[[^\]\[]*\])(?:, \[[^\]\[]*\])*)")
    box = re.compile(r"\[[^\]\[]*\]")
    items = json.loads((corpus_dir / "data" / "referring_qa.json").read_text())
    rows = []
    for item in items:
        for b, block in enumerate(item["conversations"]):
            for t, turn in enumerate(block["content"]):
                for m, found in enumerate(mark.finditer(turn["value"])):
                    for k, bx in enumerate(box.finditer(found.group(3))):
                        x1, y1, x2, y2 = (float(v) for v in bx.group()[1:-1].split(", "))
                        rows.append(
                            (
                                item["image_id"],
                                b,
                                t,
                                m,
                                found.group(1),
                                k,
                                x1,
                                y1,
                                x2,
                                y2,
                                bx.group(),
                                found.start(),
                                found.start(3) + bx.start(),
                            )
                        )
    return sorted(rows)


def test_boxes_equal_an_independent_python_parse(corpus, ingested):
    corpus_dir, _ = corpus
    got = sorted(
        (
            r["image_id"],
            r["block"],
            r["turn"],
            r["mark_index"],
            r["phrase"],
            r["box_index"],
            r["x1"],
            r["y1"],
            r["x2"],
            r["y2"],
            r["box_text"],
            r["mark_offset"],
            r["box_offset"],
        )
        for r in table(ingested, "boxes")
    )
    assert got == _python_boxes(corpus_dir)


def test_box_offsets_point_at_the_box_text(ingested):
    turns = {
        (r["image_id"], r["block"], r["turn"]): r["text"] for r in table(ingested, "turns", "task = 'referring_qa'")
    }
    for b in table(ingested, "boxes"):
        text = turns[(b["image_id"], b["block"], b["turn"])]
        assert text[b["box_offset"] : b["box_offset"] + len(b["box_text"])] == b["box_text"]
        assert text[b["mark_offset"] : b["mark_offset"] + 4 + len(b["phrase"]) + 4] == f"<st>{b['phrase']}<ed>"


def test_vg_image_1_worked_example(ingested):
    image = table(ingested, "images", "image_id = 1")[0]
    assert (image["width"], image["height"], image["folder"], image["image_path"]) == (
        800,
        600,
        "VG_100K_2",
        "vg/VG_100K_2/1.jpg",
    )
    assert image["coco_id"] is None
    clocks = table(ingested, "boxes", "image_id = 1 and phrase = 'clock'")
    assert clocks, "the generator puts VG image 1's clock into a referring QA"
    assert (clocks[0]["x1"], clocks[0]["y1"], clocks[0]["x2"], clocks[0]["y2"]) == (0.526, 0.152, 0.625, 0.717)
    assert clocks[0]["box_text"] == "[0.526, 0.152, 0.625, 0.717]"


def test_turn_text_and_order_equal_the_source(corpus, ingested):
    """Text and order as in the file; the role as LLaVA spells it, SVIT's own given back one to one."""
    corpus_dir, _ = corpus
    items = json.loads((corpus_dir / "data" / "conversation.json").read_text())
    expected = [
        (item["image_id"], b, t, turn["from"], turn["value"])
        for item in items
        for b, block in enumerate(item["conversations"])
        for t, turn in enumerate(block["content"])
    ]
    rows = table(ingested, "turns", "task = 'conversation'", order="image_id, block, turn")
    stored = [(r["image_id"], r["block"], r["turn"], r["role"], r["text"]) for r in rows]
    assert sorted(stored) == sorted((i, b, t, {"user": "human"}.get(f, f), v) for i, b, t, f, v in expected)
    svit_spelling = {"human": "user", "gpt": "gpt"}  # docs/warehouse.md, "Roles"
    assert sorted((i, b, t, svit_spelling[role], v) for i, b, t, role, v in stored) == sorted(expected)


def test_every_turn_carries_its_words(ingested):
    """`words`: the statistics' count of the turn's text (macros/word_count.sql), made by ingest,
    in SVIT's turns and in the LLaVA files' (whose first questions hold the `<image>` token)."""
    rows = table(ingested, "turns") + table(ingested, "llava_turns")
    assert len(rows) > 0 and all(r["words"] == words(r["text"]) for r in rows)
    assert any("<image>" in r["text"] for r in rows)
    # Not every text is words between single spaces: the other paths of the count are taken too.
    assert any(r["words"] != r["text"].count(" ") + 1 for r in rows)


def test_turn_roles_are_human_and_gpt_in_every_task(corpus, ingested):
    """`where role = 'human'` finds every question: one per QA pair, in turns as in llava_turns."""
    _, truth = corpus
    for task in TASKS:
        rows = table(ingested, "turns", f"task = '{task}'", order="image_id, block, turn")
        roles = [r["role"] for r in rows]
        assert roles.count("human") == roles.count("gpt") == truth["turns_per_task"][task] // 2, task
        assert set(roles) == {"human", "gpt"}, task
        assert all(r["role"] == ("human" if r["turn"] % 2 == 0 else "gpt") for r in rows), task
    assert {r["role"] for r in table(ingested, "llava_turns")} == {"human", "gpt"}


def test_the_naive_baseline_writes_the_same_turns(corpus, ingested, tmp_path):
    """bench/naive_ingest.py, which the benchmark compares ingest with, writes the warehouse's
    turns, roles spelt the same."""
    corpus_dir, _ = corpus
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "naive_ingest.py"), str(corpus_dir), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect()
    naive = con.sql(
        f"select task, image_id, block, turn, role, text from read_parquet('{tmp_path}/turns/*.parquet') order by all"
    ).fetchall()
    stored = [
        (r["task"], r["image_id"], r["block"], r["turn"], r["role"], r["text"])
        for r in table(ingested, "turns", order="task, image_id, block, turn")
    ]
    assert naive == sorted(stored)
    assert {row[4] for row in naive} == {"human", "gpt"}


def test_extra_block_keys_are_kept_as_json(corpus, ingested):
    corpus_dir, truth = corpus
    items = json.loads((corpus_dir / "data" / "conversation.json").read_text())
    expected = {
        (item["image_id"], b): {k: v for k, v in block.items() if k != "content"}
        for item in items
        for b, block in enumerate(item["conversations"])
        if set(block) != {"content"}
    }
    rows = table(ingested, "conversations", "task = 'conversation' and extra is not null")
    assert {(r["image_id"], r["block"]): json.loads(r["extra"]) for r in rows} == expected
    assert len(expected) == truth["blocks_with_extra_keys"]["conversation"] > 0


def test_conversations_carry_source_file_and_record_index(corpus, ingested):
    corpus_dir, _ = corpus
    items = json.loads((corpus_dir / "data" / "referring_qa.json").read_text())
    position = {item["image_id"]: index for index, item in enumerate(items)}
    rows = table(ingested, "conversations", "task = 'referring_qa'")
    assert {r["source_file"] for r in rows} == {"referring_qa.json"}
    assert all(r["record_index"] == position[r["image_id"]] for r in rows)
    assert {r["n_turns"] for r in rows} == {2}


def test_llava_records_keep_id_type_absent_image_extra_keys_and_order(corpus, ingested):
    corpus_dir, _ = corpus
    source = json.loads((corpus_dir / "llava" / "llava_v1_5_mix665k.json").read_text())
    rows = table(ingested, "llava_records", "source = 'llava_v1_5_mix665k'", order="record_index")
    assert len(rows) == len(source)
    for row, rec in zip(rows, source, strict=True):
        assert json.loads(row["id_json"]) == rec["id"] and type(json.loads(row["id_json"])) is type(rec["id"])
        assert row["id_type"] == ("integer" if isinstance(rec["id"], int) else "string")
        assert row["has_image"] == ("image" in rec)
        assert row["image"] == rec.get("image")
        extra = {k: v for k, v in rec.items() if k not in ("id", "image", "conversations")}
        assert (json.loads(row["extra"]) if row["extra"] else {}) == extra
        assert row["n_turns"] == len(rec["conversations"])
    assert any(r["id_type"] == "integer" for r in rows) and any(not r["has_image"] for r in rows)


def test_llava_turns_equal_the_source_text(corpus, ingested):
    corpus_dir, _ = corpus
    source = json.loads((corpus_dir / "llava" / "llava_v1_5_mix665k.json").read_text())
    expected = [
        (i, t, turn["from"], turn["value"])
        for i, rec in enumerate(source)
        for t, turn in enumerate(rec["conversations"])
    ]
    rows = table(ingested, "llava_turns", "source = 'llava_v1_5_mix665k'", order="record_index, turn")
    assert [(r["record_index"], r["turn"], r["role"], r["text"]) for r in rows] == expected


def test_official_llava_files_are_ingested_under_their_model_names(corpus, ingested):
    corpus_dir, truth = corpus
    core = json.loads((corpus_dir / "format" / "llava-v1.5" / "SVIT_core_150K.json").read_text())
    assert count(ingested, "llava_records", "source = 'svit_core_150k'") == len(core) == truth["core"]["records"]
    assert count(ingested, "llava_records", "source = 'svit_mix_665k'") > 0


def test_vg_objects_regions_and_coco_captions(corpus, ingested):
    corpus_dir, truth = corpus
    objects = json.loads((corpus_dir / "raw" / "annotations" / "vg" / "objects.json").read_text())
    regions = json.loads((corpus_dir / "raw" / "annotations" / "vg" / "region_descriptions.json").read_text())
    assert count(ingested, "vg_objects") == sum(len(i["objects"]) for i in objects)
    assert count(ingested, "vg_regions") == sum(len(i["regions"]) for i in regions)
    assert count(ingested, "coco_captions") == truth["coco"]["captions"]
    first = objects[0]["objects"][0]
    row = table(ingested, "vg_objects", f"object_id = {first['object_id']}")[0]
    assert (row["x"], row["y"], row["w"], row["h"], row["names"]) == (
        first["x"],
        first["y"],
        first["w"],
        first["h"],
        first["names"],
    )


def test_manifest_lists_every_file_with_hash_and_counts(corpus, ingested):
    import hashlib

    corpus_dir, truth = corpus
    rows = {r["name"]: r for r in table(ingested, "manifest")}
    conv = rows["conversation.json"]
    assert conv["sha256"] == hashlib.sha256((corpus_dir / "data" / "conversation.json").read_bytes()).hexdigest()
    assert conv["records_written"] == truth["blocks_per_task"]["conversation"]
    assert conv["records_read"] == truth["images_per_task"]["conversation"]
    assert json.loads(conv["tool_versions"])["duckdb"]
    assert (conv["reader"], rows["image_data.json"]["reader"]) == ("typed", None)
    assert {"image_data.json", "objects.json", "llava_v1_5_mix665k.json", "SVIT_core_150K.json"} <= set(rows)
