"""The task models are built in slices of image items (macros/materializations/sliced_table.sql):
the same tables, row for row and in the stored order, whatever the slice size, and an empty
task gives an empty table with the model's columns."""

from __future__ import annotations

import re

import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import run_dbt
from svit.core.warehouse import Warehouse
from tests.helpers import qa, query, vg_image, write_corpus

TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")


def _stored(warehouse: Warehouse, model: str) -> list[tuple]:
    # No ORDER BY: the rows as the table stores them (preserve_insertion_order).
    return query(warehouse, f"select * from {model}")


def _slices_logged(warehouse: Warehouse) -> dict[str, int]:
    log = "".join(path.read_text() for path in (warehouse.root / "dbt" / "logs").glob("*.log"))
    return {m: int(n) for m, n in re.findall(r"(llava_svit_[a-z_]+): (\d+) slices", log)}


@pytest.fixture(scope="module")
def small_slices(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("small_slices"))
    run_ingest(BUNDLED_SAMPLE, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--select", "+llava_svit_all", "--vars", "{task_slice_turns: 40}"), quiet=True)
    return warehouse


def test_small_slices_build_each_task_table_as_one_query_does(small_slices, built_sample):
    for task in TASKS:
        model = f"llava_svit_{task}"
        ours = _stored(small_slices, model)
        assert len(ours) > 50, model
        assert ours == _stored(built_sample, model), model


def test_small_slices_are_many_and_the_default_is_one_slice_on_the_sample(small_slices, built_sample):
    small = _slices_logged(small_slices)
    assert set(small) == {f"llava_svit_{t}" for t in TASKS}
    assert all(n >= 5 for n in small.values()), small
    # The sample's tasks fit one slice of the default size.
    assert set(_slices_logged(built_sample).values()) == {1}


def test_a_task_without_records_is_an_empty_table_with_the_models_columns(tmp_path):
    source = write_corpus(
        tmp_path / "src",
        {"conversation": [], "complex_reasoning": [{"image_id": 1, "conversations": [{"content": qa("q?", "a.")}]}]},
        [vg_image(1)],
    )
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--select", "+llava_svit_all"), quiet=True)
    assert query(warehouse, "select count(*) from llava_svit_conversation") == [(0,)]
    columns = "select column_name from information_schema.columns where table_name = '{}' order by ordinal_position"
    assert query(warehouse, columns.format("llava_svit_conversation")) == query(
        warehouse, columns.format("llava_svit_complex_reasoning")
    )
    assert query(warehouse, "select id, conversations from llava_svit_all") == [
        (
            "svit_complex_reasoning_1_0",
            [{"from": "human", "value": "<image>\nq?"}, {"from": "gpt", "value": "a."}],
        )
    ]
