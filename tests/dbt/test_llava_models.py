"""The LLaVA models equal, string for string, what BAAI's procedure gives on the same input."""

from __future__ import annotations

import duckdb

from ingest.pipeline import run_ingest
from svit.core.baai_procedure import image_path, to_llava_record
from svit.core.dbt import run_dbt
from svit.core.facts import TASKS
from svit.core.referring import choose_instruction
from svit.core.warehouse import Warehouse
from tests.helpers import qa, query, sample_image_sizes, sample_task_items, vg_image, write_corpus


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


def test_the_well_formed_test_names_the_rule_each_bad_record_breaks(built_sample):
    """llava_conversations_well_formed as dbt compiled it for a task model, run on planted records:
    each bad record comes back under the one rule it breaks, the good ones not at all."""
    model = '"svit"."main"."llava_svit_conversation"'
    [sql] = [  # dbt shortens the file names of long test names: found by the model they read
        path.read_text().replace(model, "planted")
        for path in built_sample.root.glob("dbt/target/compiled/**/llava_conversations_well_form*.sql")
        if model in path.read_text()
    ]
    good_human = "<image>\nWhere is the [0.1, 0.2, 0.3, 0.4] box?"
    planted = [
        ("good", [("human", good_human), ("gpt", "Here [0.0, 0.5, 1.0, 1.0].")]),
        ("good_no_box", [("human", "<image>\nWhat?"), ("gpt", "A cat."), ("human", "And?"), ("gpt", "A dog.")]),
        ("good_beyond_ascii", [("human", "<image>\nWhere is the café 😀?"), ("gpt", "Über dem Tisch.")]),
        ("image_twice_beyond_ascii", [("human", "<image>\né"), ("gpt", "😀<image>")]),
        ("empty", []),
        ("gpt_first", [("gpt", "<image>\nHi"), ("human", "Hello")]),
        ("two_humans", [("human", "<image>\nHi"), ("human", "Hello")]),
        ("image_later", [("human", "Hi <image>\n"), ("gpt", "Hello")]),
        ("image_twice", [("human", "<image>\nHi"), ("gpt", "Look: <image>")]),
        ("image_twice_first", [("human", "<image>\nHi <image>"), ("gpt", "Hello")]),
        ("image_in_a_later_question", [("human", "<image>\nHi"), ("gpt", "Hey"), ("human", "<image>"), ("gpt", "Yo")]),
        ("no_image", [("human", "Hi"), ("gpt", "Hello")]),
        ("box_over_one", [("human", "<image>\nWhere?"), ("gpt", "At [0.1, 0.2, 1.3, 0.4].")]),
        # 1 and 1.000 are within; a list of other than four numbers is no box.
        ("good_on_the_edge", [("human", "<image>\n[0.5, 1.0, 1, 1.000]?"), ("gpt", "[2], [3, 4] and [0.5, 2.5, 7]")]),
        ("box_over_ten", [("human", "<image>\nWhere?"), ("gpt", "At [0.1, 10, 0.2, 0.3].")]),
        ("box_just_over_one", [("human", "<image>\nWhere?"), ("gpt", "At [1.001, 0.0, 0.5, 0.5].")]),
        (
            "box_over_one_later",
            [("human", "<image>\n[0.1, 0.2, 0.3, 0.4]?"), ("gpt", "A"), ("human", "[1.5, 0, 1, 1]")],
        ),
    ]
    con = duckdb.connect()
    con.execute('create table planted (id varchar, conversations struct("from" varchar, "value" varchar)[])')
    for record_id, turns in planted:
        con.execute("insert into planted values (?, ?)", [record_id, [{"from": f, "value": v} for f, v in turns]])
    found = dict(con.execute(f"select id, broken_rule from ({sql})").fetchall())
    assert found == {
        "empty": "no turns",
        "gpt_first": "turns do not alternate",
        "two_humans": "turns do not alternate",
        "image_later": "<image> not once at the start",
        "image_twice": "<image> not once at the start",
        "image_twice_first": "<image> not once at the start",
        "image_twice_beyond_ascii": "<image> not once at the start",
        "image_in_a_later_question": "<image> not once at the start",
        "no_image": "<image> not once at the start",
        "box_over_one": "box outside 0..1",
        "box_over_ten": "box outside 0..1",
        "box_just_over_one": "box outside 0..1",
        "box_over_one_later": "box outside 0..1",
    }


def test_complex_reasoning_blocks_of_two_turns_and_longer_blocks_both_become_records(tmp_path):
    """llava_svit_complex_reasoning joins a two-turn block's question and answer side by side
    and gathers a longer block's turns (macros/llava_records.sql, `pairs`): both in order."""
    blocks = [qa("Why?", "Because."), qa("How?", "So.") + qa("And then?", "Then this."), qa("Who?", "Them.")]
    items = [{"image_id": 2, "conversations": [{"content": b} for b in blocks[1:]]}]
    items.insert(0, {"image_id": 1, "conversations": [{"content": blocks[0]}]})
    source = write_corpus(tmp_path / "src", {"complex_reasoning": items}, [vg_image(1), vg_image(2)])
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    run_dbt(warehouse, "build", ("--select", "+llava_svit_all"), quiet=True)
    rows = query(warehouse, "select id, conversations from llava_svit_complex_reasoning")

    def turns(*pairs):
        return [{"from": role, "value": value} for role, value in pairs]

    assert rows == [
        ("svit_complex_reasoning_1_0", turns(("human", "<image>\nWhy?"), ("gpt", "Because."))),
        (
            "svit_complex_reasoning_2_0",
            turns(("human", "<image>\nHow?"), ("gpt", "So."), ("human", "And then?"), ("gpt", "Then this.")),
        ),
        ("svit_complex_reasoning_2_1", turns(("human", "<image>\nWho?"), ("gpt", "Them."))),
    ]


def test_the_turns_test_finds_a_turn_outside_its_block(built_sample):
    """turns_within_their_blocks as dbt compiled it, on planted turns: a turn past its block's
    n_turns, a negative one and one of no block come back; the others do not."""
    [path] = [p for p in built_sample.root.glob("dbt/target/compiled/**/turns_within_their_blocks*.sql")]
    sql = path.read_text()
    con = duckdb.connect()
    con.execute("create table planted_turns (task varchar, image_id bigint, block integer, turn integer)")
    con.execute("create table planted_blocks (task varchar, image_id bigint, block integer, n_turns integer)")
    con.execute("insert into planted_blocks values ('conversation', 1, 0, 2), ('conversation', 1, 1, 4)")
    con.execute(
        "insert into planted_turns values ('conversation', 1, 0, 0), ('conversation', 1, 0, 1),"
        " ('conversation', 1, 0, 2), ('conversation', 1, 1, 3), ('conversation', 1, 1, -1), ('conversation', 2, 0, 0)"
    )
    sql = sql.replace('"svit"."main"."stg_svit__turns"', "planted_turns")
    sql = sql.replace('"svit"."main"."stg_svit__conversations"', "planted_blocks")
    found = sorted(con.execute(f"select image_id, block, turn from ({sql})").fetchall())
    assert found == [(1, 0, 2), (1, 1, -1), (2, 0, 0)]
