"""What mixes keep between builds of user recipes: facts of each source record that do not
depend on the recipe.

Two tables, filled by mix_user's pre-hook once per model a recipe needs them for
(macros/recipes/record_cache.sql) and read by the next mixes:

- QUESTION_PHRASES: the (record, object phrase) pairs `select: coverage` ranks by; finding
  them is most of a coverage mix's time at full scale (bench/README.md);
- FIRST_ANSWERS: whether each record's first answer is a Yes or No answer, which
  `yes_no_ratio` balances; finding it reads every record's turns.

They hold only while the models stay as they were built, so everything that builds models
forgets them first, whatever it then builds: a build that stops half-way cannot leave facts
of a model it rebuilt.
"""

from __future__ import annotations

from svit.core.models_db import FIRST_ANSWERS, QUESTION_PHRASES, connect
from svit.core.warehouse import Warehouse


def forget_record_caches(warehouse: Warehouse) -> None:
    """Drop the kept facts (before a build: `svit build`, or `svit mix` of a published mix)."""
    if not warehouse.duckdb_path.exists():
        return
    con = connect(warehouse, read_only=False)
    try:
        for table in (QUESTION_PHRASES, FIRST_ANSWERS):
            con.execute(f"drop table if exists {table}")
    finally:
        con.close()
