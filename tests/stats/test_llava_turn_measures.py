"""The LLaVA files' turns are profiled from what ingest stored of each (words, chars,
duplicate_hash, yes_no: macros/llava_turn_measures.sql) through stg_llava__turns, which reads
no text for them; a file written before ingest measured turns is measured there from the text
(the unit tests in models/staging/_staging__models.yml)."""

from __future__ import annotations

from svit.core.macros import render_with_macros
from svit.core.session import open_session
from svit.stats.analyses import ANALYSES_DIR, analysis_variables, render_analysis
from svit.stats.models import available_models, choose_models

FILE_TURN_ANALYSES = ("llava_text_lengths", "llava_duplicates", "llava_yes_no")


def test_ingest_stores_what_the_macro_measures(built_sample):
    """Every stored measure of the sample's LLaVA turns is what the macro gives for the text."""
    measures = render_with_macros("{{ llava_turn_measures('text', 'role') }}")
    session = open_session(built_sample, models=True)
    try:
        [(turns, files, differ, answers)] = session.con.execute(
            f"""
            select count(*), count(distinct stored.llava_file),
                count(*) filter (where stored.chars is distinct from measured.chars
                    or stored.duplicate_hash is distinct from measured.duplicate_hash
                    or stored.yes_no is distinct from measured.yes_no),
                count(stored.yes_no)
            from stg_llava__turns as stored
            inner join (
                select source as llava_file, record_index, turn, {measures} from llava_turns
            ) as measured using (llava_file, record_index, turn)
            """
        ).fetchall()
    finally:
        session.close()
    assert files == 4 and turns > 1000
    assert differ == 0
    assert answers > 0  # Yes / No answers among them


def test_the_analyses_read_the_measures_not_the_text(built_sample):
    session = open_session(built_sample, models=True)
    try:
        choice = choose_models(session, [])
        variables = analysis_variables(choice, set(available_models(session)[0]))
    finally:
        session.close()
    reads = render_with_macros("{{ llava_file_turns() }}", {"ref": lambda m: m, "var": variables.get})
    assert "stg_llava__turns" in reads and "text" not in reads
    for name in FILE_TURN_ANALYSES:
        # The files' turns come through the macro alone.
        source = (ANALYSES_DIR / f"{name}.sql").read_text()
        assert "llava_file_turns()" in source and "stg_llava__turns" not in source
        assert "from stg_llava__turns" in " ".join(render_analysis(name, variables).replace('"', "").split())
