"""The instruction var changes the referring records, and only them; the retired box_format
var is refused with what replaced it."""

from __future__ import annotations

import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import run_dbt
from svit.core.warehouse import Warehouse
from tests.helpers import one_line_error, query, svit_cli

INSTRUCTIONS = (
    "Provide the bounding boxes of the mentioned objects.",
    "Include the coordinates for each mentioned object.",
    "Locate the objects with their coordinates.",
)
QUESTIONS = "select id, conversations[1].value from llava_svit_referring_qa order by record_order"


@pytest.fixture(scope="module")
def no_instruction(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("no_instruction"))
    run_ingest(BUNDLED_SAMPLE, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--vars", "{instruction: none}"), quiet=True)
    return warehouse


def test_no_instruction_leaves_the_question_as_published(no_instruction, built_sample):
    ours = query(no_instruction, QUESTIONS)
    published = dict(query(built_sample, QUESTIONS))
    assert len(ours) == len(published) > 1000
    for record_id, question in ours:
        with_instruction = published[record_id]
        assert any(with_instruction == f"{question} {i}" for i in INSTRUCTIONS), record_id


def test_other_tasks_do_not_change_with_the_vars(no_instruction, built_sample):
    sql = "select id, conversations from llava_svit_complex_reasoning order by record_order"
    assert query(no_instruction, sql) == query(built_sample, sql)


def test_a_sentence_of_ones_own_goes_after_every_question(tmp_path, built_sample):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(BUNDLED_SAMPLE, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--vars", "{instruction: 'Find them.'}"), quiet=True)
    published = dict(query(built_sample, QUESTIONS))
    for record_id, question in query(warehouse, QUESTIONS):
        assert question.endswith(" Find them.")
        assert any(published[record_id] == question.removesuffix("Find them.") + i for i in INSTRUCTIONS)


def test_the_retired_box_format_var_says_what_replaced_it(built_sample):
    proc = svit_cli("--warehouse", str(built_sample.root), "build", "--vars", "{box_format: qwen}")
    assert one_line_error(proc) == (
        "svit: the box_format var is gone: the models hold the boxes as published; choose another grounding "
        "per output: `grounding:` in a mix recipe, or `svit export --grounding` (docs/models.md, Groundings)"
    )
