"""`svit stats`: run the dbt analyses in analyses/ over the warehouse and write a report.

`analyses` finds, renders and runs the analyses, `models` chooses the LLaVA models to profile,
`report` writes report.md, report.html, csv/ and the PNG plots, and `run` puts them together.
docs/statistics.md describes the report and how the analyses run.
"""

from svit.stats.analyses import Table, list_analyses, render_analysis
from svit.stats.report import StatsReport
from svit.stats.run import run_stats

__all__ = ["StatsReport", "Table", "list_analyses", "render_analysis", "run_stats"]
