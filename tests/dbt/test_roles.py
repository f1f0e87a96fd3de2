"""One role vocabulary, LLaVA's human / gpt, in the tables and the models (docs/warehouse.md, "Roles");
a snapshot whose turns still say SVIT's `user` builds the same models."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from svit.core.dbt import run_dbt
from svit.core.warehouse import Warehouse
from tests.helpers import TRUTH, query


def _roles(warehouse: Warehouse, relation: str) -> dict[str, int]:
    return dict(query(warehouse, f"select role, count(*) from {relation} group by role"))


def test_turns_and_models_say_human_and_gpt(built_sample):
    pairs = sum(TRUTH["qa_pairs_per_task"].values())
    assert _roles(built_sample, "stg_svit__turns") == {"human": pairs, "gpt": pairs}
    rendered = dict(
        query(
            built_sample,
            'select t."from", count(*) from (select unnest(conversations) as t from llava_svit_all) group by 1',
        )
    )
    assert rendered == {"human": pairs, "gpt": pairs}
    # The same word finds the questions of an ingested LLaVA file and of SVIT.
    assert set(_roles(built_sample, "stg_llava__turns")) == {"human", "gpt"}
    [(bad,)] = query(
        built_sample,
        """select count(*) from (select unnest(conversations) as t, generate_subscripts(conversations, 1) as i
           from llava_svit_all) where t."from" <> case when i % 2 = 1 then 'human' else 'gpt' end""",
    )
    assert bad == 0


def test_a_snapshot_whose_turns_say_user_builds_the_same_models(built_sample, tmp_path):
    """Table files written before ingest stored `human` say `user` (and have no `words`); mixed
    with new ones in one snapshot, they read the same through stg_svit__turns, and every LLaVA
    record is unchanged."""
    root = tmp_path / "warehouse"
    shutil.copytree(built_sample.root, root, symlinks=True)
    old = Warehouse(root.resolve())
    for task in ("conversation", "referring_qa"):  # as old files; the other two tasks as new ones
        for path in (old.root / "turns" / f"task={task}").glob("*.parquet"):
            rows = pq.read_table(path)
            role = rows.schema.get_field_index("role")
            svit_spelling = pc.if_else(pc.equal(rows["role"], "human"), "user", rows["role"])
            # Nor had ingest counted each turn's words then.
            pq.write_table(rows.set_column(role, "role", svit_spelling).drop_columns(["words"]), path)
    con = duckdb.connect()
    raw = dict(
        con.sql(
            f"select role, count(*) from read_parquet('{old.root}/turns/*/*.parquet', hive_partitioning = true, "
            "union_by_name = true) "
            "group by role"
        ).fetchall()
    )
    mixed = TRUTH["qa_pairs_per_task"]
    assert raw == {
        "user": mixed["conversation"] + mixed["referring_qa"],
        "human": mixed["complex_reasoning"] + mixed["detail_description"],
        "gpt": sum(mixed.values()),
    }

    run_dbt(old, "build", quiet=True)
    assert _roles(old, "stg_svit__turns") == _roles(built_sample, "stg_svit__turns")
    records = "select id, image, conversations from llava_svit_all order by record_order"
    assert query(old, records) == query(built_sample, records)
    questions = "select count(*) from stg_svit__turns where role = 'human' and task = 'referring_qa'"
    assert query(old, questions) == [(mixed["referring_qa"],)]
    # The turns of the old files are counted by stg_svit__turns as ingest counts the others.
    counted = "select task, image_id, block, turn, words from stg_svit__turns order by all"
    assert query(old, counted) == query(built_sample, counted)
