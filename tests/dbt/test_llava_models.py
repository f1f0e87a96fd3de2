"""The LLaVA models equal, string for string, what BAAI's procedure gives on the same input."""

from __future__ import annotations

from svit.core.baai_procedure import image_path, to_llava_record
from svit.core.facts import TASKS
from svit.core.referring import choose_instruction
from tests.helpers import query, sample_image_sizes, sample_task_items


def _folder(url: str) -> str:
    return "VG_100K_2" if "/VG_100K_2/" in url else "VG_100K"


def _expected() -> list[dict]:
    sizes = sample_image_sizes()
    records = []
    for task in TASKS:
        for item in sample_task_items(task):
            meta = sizes[item["image_id"]]
            for block_index, block in enumerate(item["conversations"]):
                record_id = f"svit_{task}_{item['image_id']}_{block_index}"
                records.append(
                    to_llava_record(
                        task,
                        item["image_id"],
                        block_index,
                        block,
                        image_path(_folder(meta["url"]), item["image_id"]),
                        meta["width"],
                        meta["height"],
                        (lambda _turn, rid=record_id: choose_instruction(rid, 0)),
                        record_id,
                    )
                )
    return records


def test_every_record_equals_baais_procedure_in_the_published_order(built_sample):
    rows = query(built_sample, "select id, image, conversations from llava_svit_all order by record_order")
    got = [{"id": i, "image": image, "conversations": [dict(t) for t in conv]} for i, image, conv in rows]
    expected = _expected()
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g == e, g["id"]


def test_per_task_models_hold_their_task_in_order(built_sample):
    for task in TASKS:
        ids = [r[0] for r in query(built_sample, f"select id from llava_svit_{task} order by record_order")]
        all_ids = [
            r[0]
            for r in query(built_sample, f"select id from llava_svit_all where task = '{task}' order by record_order")
        ]
        assert ids == all_ids and ids


def test_record_order_survives_in_the_stored_table(built_sample):
    """The tables keep the published order as stored (the preserve_insertion_order trap)."""
    stored = [r[0] for r in query(built_sample, "select record_order from llava_svit_referring_qa")]
    assert stored == sorted(stored)
