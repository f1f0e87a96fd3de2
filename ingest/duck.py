"""The DuckDB connection ingest runs on, running a statement with a progress bar, and the
readers' detail lines."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import duckdb
from tqdm import tqdm

from svit.core import settings, word_counts
from svit.core.sql import sql_str


class _Details:
    """Whether the readers' own lines (each scan's size and speed, each statement's time, the
    steps of the SVIT scan) are printed: `svit ingest -v` shows them, plain `svit ingest`
    only its one line per file (ingest/pipeline.py)."""

    shown = True


def detail(line: str) -> None:
    """Print a reader's detail line, through tqdm.write so that the bars on standard error stay whole."""
    if _Details.shown:
        tqdm.write(line)


@contextlib.contextmanager
def details_shown(shown: bool):
    """Show or hide the readers' detail lines inside the block."""
    before, _Details.shown = _Details.shown, shown
    try:
        yield
    finally:
        _Details.shown = before


def connect(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory limit and a spill directory."""
    # Ingest's peak memory must stay bounded at full scale: past the limit DuckDB spills to temp_dir.
    con = duckdb.connect(config={"memory_limit": settings.ingest_memory_limit(), "temp_directory": str(temp_dir)})
    # Record order is part of the data (LLaVA files, record_index): keep it.
    con.execute("set preserve_insertion_order = true")
    # Each turn's words, counted as the turns are written (svit/core/word_counts.py).
    word_counts.register(con)
    return con


def execute(con: duckdb.DuckDBPyConnection, sql: str, desc: str, total_bytes: int, progress: bool) -> None:
    """Run one statement; while it runs, show DuckDB's own progress as bytes read."""
    if not progress:
        con.execute(sql)
        return
    # disable=None: a bar only on a terminal, so logs stay readable.
    bar = tqdm(total=total_bytes, desc=desc, unit="B", unit_scale=True, leave=False, dynamic_ncols=True, disable=None)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            share = con.query_progress()
            if share >= 0:
                bar.n = int(total_bytes * min(share, 100.0) / 100.0)
                bar.refresh()

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        con.execute(sql)
    finally:
        done.set()
        watcher.join()
        bar.n = total_bytes
        bar.close()
    elapsed = time.perf_counter() - started
    if elapsed >= 1.0:
        detail(f"  {desc}: {total_bytes / 1e6:,.0f} MB in {elapsed:.1f}s ({total_bytes / 1e6 / elapsed:,.0f} MB/s)")


def copy_input_to_parquet(con, item, feeds, query: str, target: Path, progress: bool) -> int:
    """Write `query` (which reads `item`) to one Parquet file; the number of rows written."""
    with feeds.feeding([item]):
        execute(
            con,
            f"copy ({query}) to {sql_str(target)} (format parquet, compression zstd)",
            f"read {item.name}",
            item.size,
            progress,
        )
    return con.execute(f"select count(*) from read_parquet({sql_str(target)})").fetchall()[0][0]
