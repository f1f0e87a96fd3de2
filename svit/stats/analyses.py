"""Running the analyses: find the dbt analyses in analyses/, render them with the macros they call,
run them on the read-only session and collect their results.

The analyses are found by listing analyses/*.sql; the name says what an analysis reads:
`svit_*` the SVIT tables, `llava_*` the LLaVA models and files being profiled. The macros
an analysis gets are found by svit/core/macros.py.

The analyses are dbt analyses (Jinja + SQL, `{{ ref() }}` to the staging views and the LLaVA
models), which `dbt compile` compiles too. Here they are rendered with Jinja directly,
`ref('x')` becoming the relation's bare name in the read-only session of `svit sql`, which
spares dbt's start-up and never writes to the warehouse. `var()` carries the models to
profile and the published constants the SQL needs (docs/statistics.md, "How they run").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from svit.core.dbt import PROJECT_DIR
from svit.core.errors import SvitError, first_line
from svit.core.facts import DETAIL_QUESTIONS, FAMILY_MAX_LENGTH
from svit.core.macros import render_with_macros
from svit.core.models_db import IMAGE_FILES, MODEL_PARTS, RECORD_TOKENS, SVIT_TEXT_PARTS
from svit.core.sql import sql_ident
from svit.stats.models import ModelChoice

ANALYSES_DIR = PROJECT_DIR / "analyses"
SVIT_PREFIX = "svit_"  # analyses of the SVIT tables (staging views)
MODEL_PREFIX = "llava_"  # analyses of the LLaVA models and files being profiled
TOP_PHRASES = 20
# svit_turn_measures() (macros/svit_turn_measures.sql) reads this temporary table when the var
# names it: several analyses read every SVIT turn's words, hash or Yes / No, measured once per run.
SVIT_TURN_MEASURES_VAR = "stats_svit_turn_measures"
SVIT_TURN_MEASURES_TABLE = "stats_svit_turn_measures"
# Analyses that read a table another command writes, with that command: run only when the
# table exists (the report says which command would add them).
NEEDS = {
    "llava_token_lengths": (RECORD_TOKENS, "svit tokens --family F"),
    "llava_token_over_length": (RECORD_TOKENS, "svit tokens --family F"),
    "llava_image_sizes": (IMAGE_FILES, "svit images ROOT"),
}


@dataclass
class Table:
    """One analysis result: column names and rows (Python values)."""

    name: str
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def list_analyses() -> list[str]:
    """The analyses in analyses/, by name, sorted; SvitError for one named neither svit_* nor llava_*."""
    names = sorted(path.stem for path in ANALYSES_DIR.glob("*.sql"))
    odd = [n for n in names if not n.startswith((SVIT_PREFIX, MODEL_PREFIX))]
    if odd:
        raise SvitError(
            f"{', '.join(n + '.sql' for n in odd)} in {ANALYSES_DIR}: name an analysis {SVIT_PREFIX}* "
            f"(it reads the SVIT tables) or {MODEL_PREFIX}* (it reads the models being profiled)"
        )
    return names


def is_model_analysis(name: str) -> bool:
    """Whether an analysis reads the models being profiled (llava_*), not the SVIT tables (svit_*)."""
    return name.startswith(MODEL_PREFIX)


def analysis_variables(choice: ModelChoice, shaped: set[str], max_length: int | None = None) -> dict[str, Any]:
    """The var() values of a run: the models to profile, the cut-off lengths are compared to
    (`max_length`, else each family's usual one) and the published constants."""
    return {
        "stats_max_length": max_length,
        "stats_family_max_length": dict(FAMILY_MAX_LENGTH),
        "stats_models": choice.dbt_models,
        # A union of other models is read from its parts when they are all there.
        "stats_model_parts": {
            m: list(p) for m, p in MODEL_PARTS.items() if m in choice.dbt_models and shaped.issuperset(p)
        },
        # Task models measured through the SVIT turns (when built: their lineage columns name them).
        "stats_svit_text_parts": {p: task for p, task in SVIT_TEXT_PARTS.items() if p in shaped},
        "stats_llava_files": choice.llava_files,
        "stats_detail_questions": list(DETAIL_QUESTIONS),
        "stats_top_phrases": TOP_PHRASES,
    }


def render_analysis(name: str, variables: dict[str, Any] | None = None) -> str:
    """The SQL of analyses/<name>.sql with ref()/source() as bare relation names and var() from `variables`."""
    path = ANALYSES_DIR / f"{name}.sql"
    if not path.is_file():
        raise SvitError(f"analysis {name} not found in {ANALYSES_DIR}")
    return render_with_macros(path.read_text(), _context(variables))


def _context(variables: dict[str, Any] | None) -> dict[str, Any]:
    """ref()/source() as bare relation names and var() from `variables`."""
    values = dict(variables or {})
    return {
        "ref": lambda model, *_: sql_ident(model),
        "source": lambda _source, table: sql_ident(table),
        "var": lambda key, default=None: values.get(key, default),
    }


def run_analyses(con, names: list[str], variables: dict[str, Any]) -> tuple[dict[str, Table], dict[str, float]]:
    """Run the analyses in order on the session's connection: their tables, and seconds per
    analysis (and for the shared measures, under the macro's name)."""
    shared = {**variables, SVIT_TURN_MEASURES_VAR: SVIT_TURN_MEASURES_TABLE}
    sqls = {name: render_analysis(name, shared) for name in names}
    tables, timings = {}, {}
    if any(SVIT_TURN_MEASURES_TABLE in sql for sql in sqls.values()):
        started = time.perf_counter()
        select = render_with_macros("{{ svit_turn_measures() }}", _context(variables))
        _query(
            con,
            "svit_turn_measures",
            f"create or replace temp table {SVIT_TURN_MEASURES_TABLE} as select * from {select}",
        )
        timings["svit_turn_measures"] = time.perf_counter() - started
    for name in names:
        started = time.perf_counter()
        tables[name] = Table(name, *_query(con, name, sqls[name]))
        timings[name] = time.perf_counter() - started
    return tables, timings


def run_analysis(con, name: str, variables: dict[str, Any]) -> Table:
    """One analysis's table (the measures it shares made for it alone)."""
    return run_analyses(con, [name], variables)[0][name]


def _query(con, name: str, sql: str) -> tuple[list[str], list[tuple]]:
    """The columns and rows of `sql`; SvitError naming `name` when DuckDB fails."""
    import duckdb

    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    except duckdb.Error as exc:
        raise SvitError(f"analysis {name} failed: {first_line(exc)}") from exc
