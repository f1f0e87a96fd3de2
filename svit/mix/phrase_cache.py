"""The pairs of (record, object phrase) that `select: coverage` reads, kept between mixes.

Which phrases a record's questions name does not depend on the recipe, and finding them is
most of a coverage mix's time at full scale (bench/README.md): mix_user's pre-hook finds them
once per model into the table QUESTION_PHRASES (macros/recipes/object_phrases.sql), and the
next mixes read them from there. They hold only while the models stay as they were built, so
everything that builds models forgets them first, whatever it then builds: a build that
stops half-way cannot leave pairs of a model it rebuilt.
"""

from __future__ import annotations

from svit.core.models_db import QUESTION_PHRASES, connect
from svit.core.warehouse import Warehouse


def forget_question_phrases(warehouse: Warehouse) -> None:
    """Drop the kept pairs (before a build: `svit build`, or `svit mix` of a published mix)."""
    if not warehouse.duckdb_path.exists():
        return
    con = connect(warehouse, read_only=False)
    try:
        con.execute(f"drop table if exists {QUESTION_PHRASES}")
    finally:
        con.close()
