"""The task models whose turns are SVIT's text as it is are profiled through the SVIT turns,
measured once per run (macros/svit_turn_measures.sql): the same tables as reading the models."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from svit.core.macros import render_with_macros
from svit.core.session import open_session
from svit.core.word_counts import SQL_FUNCTION, register, word_counts
from svit.stats.analyses import SVIT_TURN_MEASURES_TABLE, analysis_variables, render_analysis, run_analyses
from svit.stats.models import available_models, choose_models
from tests.helpers import TRUTH
from tests.stats.test_stats_numbers import words, yes_no_answer

THROUGH_SVIT_TURNS = ("llava_text_lengths", "llava_duplicates", "llava_yes_no")


def test_the_models_read_through_the_svit_turns_give_the_tables_the_models_give(built_sample):
    session = open_session(built_sample, models=True)
    try:
        choice = choose_models(session, [])
        shaped = set(available_models(session)[0])
        variables = analysis_variables(choice, shaped)
        assert variables["stats_svit_text_parts"] == {
            "llava_svit_conversation": "conversation",
            "llava_svit_complex_reasoning": "complex_reasoning",
            "llava_svit_detail_description": "detail_description",
        }
        # The default run reads the three task models through the measured turns ...
        shared = {**variables, "stats_svit_turn_measures": SVIT_TURN_MEASURES_TABLE}
        for name in THROUGH_SVIT_TURNS:
            assert SVIT_TURN_MEASURES_TABLE in render_analysis(name, shared)
        through, timings = run_analyses(session.con, list(THROUGH_SVIT_TURNS), variables)
        assert "svit_turn_measures" in timings
        # ... and without the parts, reads every record's turns from the models.
        direct, _ = run_analyses(session.con, list(THROUGH_SVIT_TURNS), {**variables, "stats_svit_text_parts": {}})
    finally:
        session.close()
    for name in THROUGH_SVIT_TURNS:
        assert through[name].columns == direct[name].columns
        assert through[name].rows == direct[name].rows, name
    # The tables hold llava_svit_all, not only the files.
    assert any(r["scope"] == "llava_svit_all" for r in through["llava_text_lengths"].dicts())


def test_the_task_models_turns_counted_by_their_blocks_give_the_sizes_their_lists_give(built_sample):
    """llava_model_sizes counts the turns of a task model whose turns are SVIT's by its block
    (stg_svit__conversations), not from each record's list; the analyses that need no turn
    count read none (llava_model_records(turns=false))."""
    session = open_session(built_sample, models=True)
    try:
        choice = choose_models(session, [])
        variables = analysis_variables(choice, set(available_models(session)[0]))
        names = ["llava_model_sizes", "llava_image_prefixes"]
        assert "stg_svit__conversations" in render_analysis("llava_model_sizes", variables)
        assert "len(conversations)" not in render_analysis("llava_image_prefixes", variables)
        by_blocks, _ = run_analyses(session.con, names, variables)
        from_lists, _ = run_analyses(session.con, names, {**variables, "stats_svit_text_parts": {}})
    finally:
        session.close()
    for name in names:
        assert by_blocks[name].rows == from_lists[name].rows, name
    sizes = {r["model"]: r for r in by_blocks["llava_model_sizes"].dicts()}
    assert sizes["llava_svit_all"]["turns"] == 2 * sum(TRUTH["qa_pairs_per_task"].values())


# A task model's turn as int_turns_rendered writes it: `<image>\n` before the first turn's text.
PLANTED = [
    (0, "human", "What is on the table?"),
    (1, "gpt", "Yes, a cup."),
    (0, "human", "  Leading spaces and a trailing one "),
    (1, "gpt", "No"),
    (0, "gpt", "Yes, a first turn that answers."),
    (1, "human", "a<image>b"),
    (0, "human", "<image>\nAlready there"),
    (1, "gpt", ""),
    (0, "human", ""),
    (1, "gpt", "Two\n\nlines\tand a tab"),
    (0, "human", "\nnewline first"),
    (1, "gpt", "Nope."),
]


def test_a_turn_measured_through_the_svit_turns_is_measured_as_the_model_writes_it():
    con = duckdb.connect()
    con.execute(
        "create table stg_svit__turns "
        "(task varchar, image_id bigint, block integer, turn integer, role varchar, text varchar, words integer)"
    )
    # `words` as ingest stores them (svit/core/word_counts.py).
    counted = word_counts(pa.array([text for _, _, text in PLANTED])).to_pylist()
    con.executemany(
        "insert into stg_svit__turns values ('conversation', ?, 0, ?, ?, ?, ?)",
        [(i, turn, role, text, n) for i, ((turn, role, text), n) in enumerate(zip(PLANTED, counted, strict=True))],
    )
    con.execute(
        "create table llava_svit_conversation as select image_id, 0 as block, 'vg/' || image_id || '.jpg' as image "
        "from range(?) as r(image_id)",
        [len(PLANTED)],
    )
    context = {"ref": lambda name, *_: name, "var": lambda key, default=None: default}
    part_turns = render_with_macros("{{ svit_text_part_turns('llava_svit_conversation', 'conversation') }}", context)
    got = con.execute(
        f"select image_id, kind, words, chars, yes_no, text_hash from ({part_turns}) order by image_id"
    ).fetchall()
    hash_of = render_with_macros("{{ duplicate_text_hash('v') }}", context)
    assert len(got) == len(PLANTED)
    for (image_id, kind, n_words, chars, yes_no, text_hash), (turn, role, text) in zip(got, PLANTED, strict=True):
        value = ("<image>\n" if turn == 0 else "") + text
        assert kind == ("question" if role == "human" else "answer")
        assert (n_words, chars) == (words(value), len(value)), (image_id, value)
        assert yes_no == (yes_no_answer(value) if role == "gpt" else None), (image_id, value)
        assert text_hash == con.execute(f"select {hash_of} from (select ?::varchar as v)", [value]).fetchone()[0], (
            image_id,
            value,
        )


@pytest.mark.parametrize("name", ["svit_text_lengths", "svit_duplicates", "svit_yes_no"])
def test_dbt_compile_writes_the_measures_in_place(name):
    """Without the var (as dbt compiles the analyses), the measures are a select of their own."""
    sql = render_analysis(name, {})
    assert SVIT_TURN_MEASURES_TABLE not in sql and "stg_svit__turns" in sql


def test_rendered_text_counted_by_the_compiled_count_gives_the_macros_table(built_sample):
    """svit stats counts the words of text the models render (referring_qa's turns) with
    ingest's compiled count, registered on its session (var stats_word_count_function);
    without it (dbt compile) the SQL macro: the same table."""
    session = open_session(built_sample, models=True)
    try:
        register(session.con)
        variables = analysis_variables(choose_models(session, []), set(available_models(session)[0]))
        compiled = {**variables, "stats_word_count_function": SQL_FUNCTION}
        assert "svit_word_count(c.value)" in render_analysis("llava_text_lengths", compiled)
        assert "svit_word_count" not in render_analysis("llava_text_lengths", variables)
        with_function, _ = run_analyses(session.con, ["llava_text_lengths"], compiled)
        with_macro, _ = run_analyses(session.con, ["llava_text_lengths"], variables)
    finally:
        session.close()
    assert with_function["llava_text_lengths"].rows == with_macro["llava_text_lengths"].rows
    assert any(r["scope"] == "llava_svit_all" for r in with_function["llava_text_lengths"].dicts())
