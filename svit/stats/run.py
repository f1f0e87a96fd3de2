"""`run_stats`: choose the models, run the analyses on a read-only session, write the report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from svit.core import settings, word_counts
from svit.core.errors import SvitError
from svit.core.session import open_session
from svit.core.warehouse import Warehouse
from svit.stats.analyses import NEEDS, analysis_variables, is_model_analysis, list_analyses, run_analyses
from svit.stats.models import available_models, choose_models
from svit.stats.report import StatsReport, check_report_folder, in_report_order, report_header, write_report


def run_stats(
    warehouse: Warehouse,
    out_dir: Path | str = "report",
    models: Sequence[str] = (),
    compare: tuple[str, str] | None = None,
    max_length: int | None = None,
) -> StatsReport:
    """Run the analyses over the warehouse and write report.md, report.html, csv/ and PNGs into `out_dir`;
    token lengths are compared to `max_length` (default: each family's usual cut-off)."""
    started = time.perf_counter()
    out = Path(out_dir)
    check_report_folder(warehouse, out)
    session = open_session(warehouse, models=True, memory_limit=settings.stats_memory_limit())
    try:
        if not session.models:
            raise SvitError(f"the statistics read the dbt models: {session.models_note}")
        requested = list(models) + (list(compare) if compare else [])
        choice = choose_models(session, requested)
        shaped = set(available_models(session)[0])
        # --compare puts two models side by side: the SVIT analyses are not part of it.
        names = [n for n in list_analyses() if is_model_analysis(n) or not compare]
        present = {r[0] for r in session.con.execute("select table_name from duckdb_tables()").fetchall()}
        missing = {n: NEEDS[n] for n in names if n in NEEDS and NEEDS[n][0] not in present}
        names = [n for n in names if n not in missing]
        # Text the models render (a referring turn's boxes, a mix) is counted by ingest's
        # compiled count, given to the session as a function (macros/word_count.sql).
        word_counts.register(session.con)
        variables = analysis_variables(choice, shaped, max_length) | {
            "stats_word_count_function": word_counts.SQL_FUNCTION
        }
        tables, timings = run_analyses(session.con, in_report_order(names), variables)
    finally:
        session.close()
    shown = list(compare) if compare else list(dict.fromkeys(list(models) or choice.names))
    report = StatsReport(
        out,
        shown,
        tuple(compare) if compare else None,
        tables,
        timings=timings,
        header=report_header(warehouse),
        not_run={n: f"needs the table {table} ({command})" for n, (table, command) in missing.items()},
    )
    report.files = write_report(report)
    report.seconds = time.perf_counter() - started
    return report
