"""Facts the dbt project carries in SQL agree with their Python sources."""

from __future__ import annotations

import random
import re

import duckdb
import pyarrow as pa

from svit.core.dbt import PROJECT_DIR
from svit.core.facts import REFERRING_INSTRUCTIONS
from svit.core.macros import render_with_macros
from svit.core.referring import choose_instruction
from tests.helpers import query


def test_round3_ties_are_what_python_does():
    bits = render_with_macros("{{ python_round3_ties() }}")
    assert len(bits) == 1001 and set(bits) == {"0", "1"}
    for k, up in enumerate(bits):
        tie = (2 * k + 1) / 2000  # the double Python divides to, as p / side does at a tie
        assert round(tie, 3) == (k + int(up)) / 1000, k


def test_boxes_round_to_thousandths_as_python_does():
    # Every coordinate of every side up to 1,200 pixels (a quarter of them ties where the side
    # is a multiple of 8), and a few past the side: past 1.001 the macro has no answer (null).
    pairs = [(p, side) for side in range(1, 1201) for p in range(side + 4)]
    pairs += [(p, side) for side in (2000, 4000, 6000) for p in range(side - 4, side + 8)]
    sql = render_with_macros(
        "select p, side, {{ python_repr_thousandths(python_round_to_thousandths('p', 'side')) }} as text from pairs"
    )
    con = duckdb.connect()
    con.register("pairs", pa.table({"p": [p for p, _ in pairs], "side": [s for _, s in pairs]}))
    written = con.execute(sql).fetchall()
    assert len(written) == len(pairs)
    assert any(p * 1000 // side == 1000 and p * 1000 % side * 2 == side for p, side in pairs)  # the last tie
    wrong = [
        (p, side, text)
        for p, side, text in written
        if text != (None if p * 1000 // side > 1000 else repr(round(p / side, 3)))
    ]
    assert wrong == []


def test_thousandths_written_as_python_repr_writes_them():
    # Every thousandth a box on the image can take and far beyond, then large values up to 2^53.
    rng = random.Random(0)
    ks = list(range(2_000_001)) + [rng.randrange(10**e, 2**53) for e in range(6, 16) for _ in range(10_000)]
    sql = render_with_macros("select k, {{ python_repr_thousandths('k') }} as text from ks")
    con = duckdb.connect()
    con.register("ks", pa.table({"k": pa.array(ks, pa.int64())}))
    written = con.execute(sql).fetchall()
    assert len(written) == len(ks)
    wrong = [(k, text) for k, text in written if text != repr(round(k / 1000, 3))]
    assert wrong == []


def test_instruction_macro_lists_the_published_sentences_in_order():
    text = (PROJECT_DIR / "macros" / "referring_instructions.sql").read_text()
    body = text[text.index("macro referring_instructions()") : text.index("endmacro")]
    assert tuple(re.findall(r"'([^']+)'", body)) == REFERRING_INSTRUCTIONS


def test_instruction_choice_in_sql_equals_python(built_sample):
    rows = query(
        built_sample,
        """
        select id, conversations[1].value from llava_svit_referring_qa
    """,
    )
    assert rows
    used = set()
    for record_id, question in rows:
        chosen = choose_instruction(record_id, 0)
        assert question.endswith(" " + chosen), record_id
        used.add(chosen)
    assert used == set(REFERRING_INSTRUCTIONS)  # all three in use, as a random choice would


def test_dbt_docs_generate_works(built_sample):
    from svit.core.dbt import run_dbt

    run_dbt(built_sample, "docs generate", quiet=True)
    catalog = built_sample.root / "dbt" / "target" / "catalog.json"
    import json

    nodes = json.loads(catalog.read_text())["nodes"]
    assert "model.svit_warehouse.llava_svit_referring_qa" in nodes
