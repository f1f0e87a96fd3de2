"""Running the analyses: find the dbt analyses in analyses/, render them with the macros they call,
run them on the read-only session and collect their results.

The analyses are found by listing analyses/*.sql; the name says what an analysis reads:
`svit_*` the SVIT tables, `llava_*` the LLaVA models and files being profiled. The macros
an analysis gets are those of the top-level macros/*.sql files that define a macro it calls,
directly or through another macro (the subfolders, macros/recipes/, hold the dbt models' own).

The analyses are dbt analyses (Jinja + SQL, `{{ ref() }}` to the staging views and the LLaVA
models), which `dbt compile` compiles too. Here they are rendered with Jinja directly,
`ref('x')` becoming the relation's bare name in the read-only session of `svit sql`, which
spares dbt's start-up and never writes to the warehouse. `var()` carries the models to
profile and the published constants the SQL needs (docs/statistics.md, "How they run").
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes

from svit.core.dbt import PROJECT_DIR
from svit.core.errors import SvitError, first_line
from svit.core.facts import DETAIL_QUESTIONS
from svit.core.models_db import MODEL_PARTS
from svit.core.sql import sql_ident
from svit.stats.models import ModelChoice

ANALYSES_DIR = PROJECT_DIR / "analyses"
MACROS_DIR = PROJECT_DIR / "macros"
SVIT_PREFIX = "svit_"  # analyses of the SVIT tables (staging views)
MODEL_PREFIX = "llava_"  # analyses of the LLaVA models and files being profiled
TOP_PHRASES = 20


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


def analysis_variables(choice: ModelChoice, shaped: set[str]) -> dict[str, Any]:
    """The var() values of a run: the models to profile and the published constants."""
    return {
        "stats_models": choice.dbt_models,
        # A union of other models is read from its parts when they are all there.
        "stats_model_parts": {
            m: list(p) for m, p in MODEL_PARTS.items() if m in choice.dbt_models and shaped.issuperset(p)
        },
        "stats_llava_files": choice.llava_files,
        "stats_detail_questions": list(DETAIL_QUESTIONS),
        "stats_top_phrases": TOP_PHRASES,
    }


def render_analysis(name: str, variables: dict[str, Any] | None = None) -> str:
    """The SQL of analyses/<name>.sql with ref()/source() as bare relation names and var() from `variables`."""
    path = ANALYSES_DIR / f"{name}.sql"
    if not path.is_file():
        raise SvitError(f"analysis {name} not found in {ANALYSES_DIR}")
    values = dict(variables or {})
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    source = path.read_text()
    context = dict(env.globals)
    context.update(
        {
            "ref": lambda model, *_: sql_ident(model),
            "source": lambda _source, table: sql_ident(table),
            "var": lambda key, default=None: values.get(key, default),
        }
    )
    # The dbt macros the analysis calls, loaded the way dbt would provide them. The modules share
    # `context`, so a macro finds one from another file whatever order they load in.
    for macro_file in macro_files_for(source):
        module = env.from_string(macro_file.read_text()).make_module(context, shared=True)
        context.update({m: getattr(module, m) for m in dir(module) if not m.startswith("_")})
    return env.from_string(source).render(**context)


def macro_files_for(source: str) -> list[Path]:
    """The top-level macros/*.sql files defining a macro `source` calls, directly or through them."""
    defined = _macro_definitions()
    wanted = set(_scan(source)[1])
    files: dict[Path, None] = {}
    while wanted:
        path = defined.get(wanted.pop())
        if path is not None and path not in files:
            files[path] = None
            wanted |= _scan(path.read_text())[1]
    return sorted(files)


def _macro_definitions() -> dict[str, Path]:
    """Macro name -> the top-level macros/*.sql file defining it (dbt refuses a name defined twice; so does this)."""
    defined: dict[str, Path] = {}
    for path in sorted(MACROS_DIR.glob("*.sql")):
        for name in _scan(path.read_text())[0]:
            if name in defined:
                raise SvitError(f"macro {name} is defined in both {defined[name]} and {path}")
            defined[name] = path
    return defined


@functools.cache
def _scan(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The macros a Jinja text defines, and the names it calls as functions (`{{ word_count(text) }}`);
    cached by text, as every analysis of a run reads the same macro files."""
    template = jinja2.Environment().parse(text)
    defined = frozenset(macro.name for macro in template.find_all(nodes.Macro))
    called = frozenset(call.node.name for call in template.find_all(nodes.Call) if isinstance(call.node, nodes.Name))
    return defined, called


def run_analyses(con, names: list[str], variables: dict[str, Any]) -> tuple[dict[str, Table], dict[str, float]]:
    """Run the analyses in order on the session's connection: their tables, and seconds per analysis."""
    tables, timings = {}, {}
    for name in names:
        started = time.perf_counter()
        tables[name] = run_analysis(con, name, variables)
        timings[name] = time.perf_counter() - started
    return tables, timings


def run_analysis(con, name: str, variables: dict[str, Any]) -> Table:
    import duckdb

    sql = render_analysis(name, variables)
    try:
        cursor = con.execute(sql)
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise SvitError(f"analysis {name} failed: {first_line(exc)}") from exc
    return Table(name, [d[0] for d in cursor.description], rows)
