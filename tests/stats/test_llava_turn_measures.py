"""The LLaVA files' turns are profiled from what ingest stored of each (words, chars,
duplicate_hash, yes_no: macros/llava_turn_measures.sql), not from their text: the same tables
as measuring the text, which is how a warehouse ingested before ingest stored them is read."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from svit.core.session import open_session
from svit.core.word_counts import SQL_FUNCTION, register
from svit.stats.analyses import analysis_variables, llava_turns_measured, render_analysis, run_analyses
from svit.stats.models import available_models, choose_models

FILE_TURN_ANALYSES = ("llava_text_lengths", "llava_duplicates", "llava_yes_no")


def test_the_stored_measures_give_the_tables_the_text_gives(built_sample):
    session = open_session(built_sample, models=True)
    try:
        assert llava_turns_measured(session.con)
        choice = choose_models(session, [])
        variables = analysis_variables(choice, set(available_models(session)[0])) | {
            "stats_word_count_function": SQL_FUNCTION
        }
        stored = variables | {"stats_llava_turns_measured": True}
        for name in FILE_TURN_ANALYSES:
            # Read from the table as ingest wrote it: no staging view, which would read the text.
            assert "stg_llava__turns" not in render_analysis(name, stored)
            assert "stg_llava__turns" in render_analysis(name, variables)
        register(session.con)
        read, _ = run_analyses(session.con, list(FILE_TURN_ANALYSES), stored)
        measured, _ = run_analyses(session.con, list(FILE_TURN_ANALYSES), variables)
    finally:
        session.close()
    for name in FILE_TURN_ANALYSES:
        assert read[name].rows == measured[name].rows, name
    # The tables hold the files, with their numbers.
    files = {r["model"]: r for r in read["llava_yes_no"].dicts()}
    assert files["llava_instruct_150k"]["answers"] > 0
    lengths = {(r["scope"], r["measure"]) for r in read["llava_text_lengths"].dicts()}
    assert ("llava_instruct_150k", "answer chars") in lengths


def _turn_file(path, with_measures: bool, chars=None) -> None:
    columns = {
        "record_index": pa.array([0, 0], pa.int64()),
        "turn": pa.array([0, 1], pa.int32()),
        "role": ["human", "gpt"],
        "text": ["<image>\nIs it red?", "Yes."],
        "extra": pa.array([None, None], pa.string()),
        "words": pa.array([3, 1], pa.int32()),
    }
    if with_measures:
        columns |= {
            "chars": pa.array(chars or [18, 4], pa.int32()),
            "duplicate_hash": pa.array([1, 2], pa.uint64()),
            "yes_no": [None, "yes"],
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_measured_only_when_every_turn_file_holds_the_measures(tmp_path):
    def measured(*files: tuple[str, bool, list | None]) -> bool:
        root = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        for source, with_measures, chars in files:
            _turn_file(root / f"source={source}" / "llava_turns_0.parquet", with_measures, chars)
        con = duckdb.connect()
        con.execute(
            f"create view llava_turns as select * from read_parquet('{root}/**/*.parquet', "
            "hive_partitioning = true, union_by_name = true)"
        )
        return llava_turns_measured(con)

    assert measured(("a", True, None), ("b", True, None))
    # A file written before ingest measured turns: no such columns at all, or beside one that has them.
    assert not measured(("a", False, None))
    assert not measured(("a", True, None), ("b", False, None))
    # A turn without its characters (stored as null) is measured from the text.
    assert not measured(("a", True, [18, None]))
