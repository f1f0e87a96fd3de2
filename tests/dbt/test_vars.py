"""The box_format and instruction vars change the referring records, and only them."""

from __future__ import annotations

import re

import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import run_dbt
from svit.core.warehouse import Warehouse
from tests.helpers import query, sample_image_sizes, sample_task_items


@pytest.fixture(scope="module")
def qwen_no_instruction(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("qwen"))
    run_ingest(BUNDLED_SAMPLE, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--vars", "{box_format: qwen, instruction: none}"), quiet=True)
    return warehouse


def test_qwen_boxes_are_thousandths_of_the_original_image_without_instruction(qwen_no_instruction):
    first = sample_task_items("referring_qa")[0]
    question = first["conversations"][0]["content"][0]["value"]
    expected = re.sub(
        r"\[([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\]",
        lambda m: "[" + ", ".join(str(round(float(v) * 1000)) for v in m.groups()) + "]",
        question.replace("<st>", "").replace("<ed>", ""),
    )
    [(value,)] = query(
        qwen_no_instruction,
        "select conversations[1].value from llava_svit_referring_qa "
        f"where image_id = {first['image_id']} and block = 0",
    )
    assert value == "<image>\n" + expected  # and no instruction appended


def test_other_tasks_do_not_change_with_the_vars(qwen_no_instruction, built_sample):
    sql = "select id, conversations from llava_svit_complex_reasoning order by record_order"
    assert query(qwen_no_instruction, sql) == query(built_sample, sql)


def test_pixels_are_rounded_on_the_original_size(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(BUNDLED_SAMPLE, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--vars", "{box_format: pixels, instruction: 'Find them.'}"), quiet=True)
    sizes = sample_image_sizes()
    first = sample_task_items("referring_qa")[0]
    meta = sizes[first["image_id"]]
    answer = first["conversations"][0]["content"][1]["value"]
    scale = (meta["width"], meta["height"]) * 2
    expected = re.sub(
        r"\[([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\]",
        lambda m: "[" + ", ".join(str(round(float(v) * s)) for v, s in zip(m.groups(), scale, strict=True)) + "]",
        answer.replace("<st>", "").replace("<ed>", ""),
    )
    [(question, value)] = query(
        warehouse,
        f"select conversations[1].value, conversations[2].value from llava_svit_referring_qa "
        f"where image_id = {first['image_id']} and block = 0",
    )
    assert value == expected
    assert question.endswith(" Find them.")
