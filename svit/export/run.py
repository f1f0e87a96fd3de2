"""Running `svit export`: records from DuckDB as Arrow, shaped by the format's Polars adapter,
written atomically.

DuckDB streams the model's records in batches (svit/export/records.py); each batch becomes
a Polars frame and the format's adapter (svit/export/formats/) turns it into one string per
record. Two batches are rendered at a time (Polars lets go of the GIL) while a writer thread
puts the previous ones into the file, straight from the buffers Polars filled
(svit/export/output.py). The records must come in the model's order: a part that is not
stored in order is detected while reading and the export starts again from a sorted query.

Output goes to a temporary file (or folder) beside `--out` and is renamed when complete.
`--out` may not lie inside the warehouse, except under `<warehouse>/exports/`
(svit/core/output_guard.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from svit import __version__
from svit.core import models_db, settings
from svit.core.errors import SvitError
from svit.core.leftovers import OWNER, owner_tag, remove_dead
from svit.core.output_guard import check_output
from svit.core.snapshots import current_snapshot
from svit.core.warehouse import Warehouse
from svit.export.formats import FORMATS, Format, Options
from svit.export.formats.base import Batch, Problems, encode, python_records, to_ascii
from svit.export.formats.parquet import is_export, write_shards
from svit.export.lengths import token_lengths
from svit.export.output import atomic_file, atomic_folder, check_out, text_buffers, write_all
from svit.export.records import Source, image_sizes, in_grounding, resolve_source

BATCH_ROWS = 25_000  # small enough that the buffers of the last batches are reused, not fresh memory
RENDER_THREADS = 2
WRITE_QUEUE = 4  # rendered batches waiting for the writer
NULL_RECORD = "a record with a null id, or with an image that is null (an unexpected null in the model)"
EXPORT_LOG = "exports.jsonl"  # under <warehouse>/exports/: one line per export
_TEMP_DIR_PREFIX = "svit-export-"
_TEMP_DIR_NAME = re.compile(rf"^svit-export-{OWNER}-")


@dataclass
class ExportResult:
    model: str
    fmt: str
    out: Path
    records: int
    bytes: int
    side_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was written without something, and how many
    grounding: dict | None = None  # how its referring records write boxes (None: an ingested file, as written)


class _OutOfOrder(Exception):
    """A part of the model was not stored in record order: export again, sorted."""


def export(
    warehouse: Warehouse,
    model: str,
    out: Path,
    fmt: str = "llava",
    indent: int | None = None,
    ensure_ascii: bool = False,
    progress: bool = True,
    dataset_name: str | None = None,
    image_root: str | None = None,
    grounding: str | None = None,
    lengths: str | None = None,
) -> ExportResult:
    """Write `model` to `out` in `fmt`; the file (or folder, for parquet) appears only when complete.
    `grounding` rewrites a SVIT model's referring records (svit/core/groundings.py). Every export
    is recorded, grounding included, in the warehouse's export log (EXPORT_LOG)."""
    if fmt not in FORMATS:
        raise SvitError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    form = FORMATS[fmt]
    options = Options(indent, ensure_ascii, dataset_name, image_root, lengths)
    if indent is not None and indent < 0:
        raise SvitError("--indent must be 0 or more")
    if not warehouse.root.is_dir():
        raise SvitError(f"no warehouse at {warehouse.root}: run `svit ingest` (or `svit demo`) first")
    check_output(warehouse, out, allowed=("exports",), what="exports")
    out = Path(out).absolute()
    form.check(options, out)
    check_out(out, folder=fmt == "parquet")
    con, temp_dir = _connect(warehouse)
    try:
        source = resolve_source(warehouse, con, model)
        if grounding is not None:
            source = in_grounding(con, source, grounding)
        if fmt == "parquet":
            result = _export_parquet(con, source, out, progress)
        else:
            sizes = image_sizes(warehouse, con) if form.needs_sizes else None
            counts = token_lengths(con, source, lengths) if lengths else None
            result = _export_text(con, source, form, options, out, sizes, progress, counts)
        result.grounding = source.grounding
        _log_export(warehouse, result)
        return result
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _log_export(warehouse: Warehouse, result: ExportResult) -> None:
    """One JSON line per export in <warehouse>/exports/EXPORT_LOG: what was written, where, how
    (the grounding), from which snapshot. One write in append mode, so concurrent exports do not
    interleave their lines."""
    snapshot = current_snapshot(warehouse.root)
    line = json.dumps(
        {
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": result.model,
            "format": result.fmt,
            "out": str(result.out),
            "records": result.records,
            "bytes": result.bytes,
            "grounding": result.grounding,
            "snapshot": snapshot.name if snapshot is not None else None,
            "svit_version": __version__,
        },
        ensure_ascii=False,
    )
    folder = warehouse.root / "exports"
    try:
        folder.mkdir(exist_ok=True)
        with open(folder / EXPORT_LOG, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    except OSError as exc:  # the export itself is complete: say what was not logged, and why
        result.notes.append(f"not logged in {folder / EXPORT_LOG}: {exc.strerror or exc}")


def _connect(warehouse: Warehouse) -> tuple[duckdb.DuckDBPyConnection, Path]:
    # DuckDB spills the sorted fallback here; a killed run's folder is removed by the next.
    remove_dead(Path(tempfile.gettempdir()), _TEMP_DIR_NAME)
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{_TEMP_DIR_PREFIX}{owner_tag()}-"))
    con = duckdb.connect(
        config={
            "threads": settings.duckdb_threads(),
            "memory_limit": settings.export_memory_limit(),
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": True,
        }
    )
    con.execute("set enable_progress_bar = false")  # DuckDB's bar writes to stdout; ours is on stderr
    # Strings handed over as Arrow string views, the layout Polars holds them in: no conversion.
    con.execute("set arrow_output_version = '1.5'")
    con.execute("set produce_arrow_string_view = true")
    if warehouse.duckdb_path.is_file():
        try:
            models_db.attach(con, warehouse)
        except SvitError:
            con.close()
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
    return con, temp_dir


def _batches(con: duckdb.DuckDBPyConnection, source: Source, sorted_scan: bool) -> Iterator[pa.RecordBatch]:
    """The model's records in order, in Arrow batches; raises _OutOfOrder when a part is not."""
    last = None
    for relation in [source.sorted_sql] if sorted_scan else source.parts:
        try:
            reader = con.sql(relation).to_arrow_reader(BATCH_ROWS)
            for batch in reader:
                if not batch.num_rows:
                    continue
                order = batch.column("ord").to_numpy(zero_copy_only=False)
                if not sorted_scan and ((last is not None and order[0] <= last) or (np.diff(order) <= 0).any()):
                    raise _OutOfOrder
                last = order[-1]
                yield batch
        except duckdb.Error as exc:
            raise SvitError(f"export query failed: {str(exc).splitlines()[0]}") from exc


def _frame(
    batch: pa.RecordBatch, sizes: pl.DataFrame | None, id_json: bool = True, turn_extras: bool = False
) -> pl.DataFrame:
    """A batch as the adapters read it (the columns of svit/export/records.py); the turns'
    extra keys only with `turn_extras`."""
    frame = pl.from_arrow(batch)
    turn_type = frame.schema.get("conversations")
    if not turn_extras and isinstance(turn_type, pl.List) and "extra" in [f.name for f in turn_type.inner.fields]:
        turn = pl.struct(pl.element().struct.field("from"), pl.element().struct.field("value"))
        frame = frame.with_columns(pl.col("conversations").list.eval(turn))
    if "has_image" not in frame.columns:  # a SVIT mart: string ids, no extra keys, one image or none
        frame = frame.with_columns(
            pl.col("image").is_not_null().alias("has_image"), pl.lit(None, pl.String).alias("extra")
        )
        if id_json:
            frame = frame.with_columns(encode(pl.col("id")).str.slice(6).str.head(-1).alias("id_json"))
    for column in ("media", "layout"):  # one image or none per record, in LLaVA's shape
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    without = pl.col("has_image") & pl.col("image").is_null() & pl.col("media").is_null()
    if frame["id"].null_count() or frame.select(without.any()).item():
        raise SvitError(NULL_RECORD)
    if sizes is not None:
        frame = frame.join(sizes, on="image", how="left", maintain_order="left")
    return frame


def _one_image_each(frame: pl.DataFrame, model: str) -> None:
    """Parquet rows have one `image` column: refuse records with several images or a video."""
    more = [r.id for r in python_records(frame.filter(pl.col("media").is_not_null())) if len(r.images) > 1 or r.videos]
    if more:
        shown = ", ".join(json.dumps(i) for i in more[:5])
        raise SvitError(
            f"{model} cannot be written as parquet: its rows hold one image, and {len(more):,} records in a batch "
            f"name several images or a video (ids: {shown}); --format llava, jsonl, sharegpt, internvl or qwen "
            "writes them"
        )


def _progress(total: int | None, progress: bool, desc: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=" rec",
        unit_scale=True,
        dynamic_ncols=True,
        leave=False,
        disable=None if progress else True,
    )


def _export_text(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    form: Format,
    options: Options,
    out: Path,
    sizes: pl.DataFrame | None,
    progress: bool,
    lengths: pl.DataFrame | None = None,
) -> ExportResult:
    container = form.container(options, out)
    python = form.python_path((source.record_extras, source.turn_extras, source.media))
    total = con.execute(source.count_sql).fetchall()[0][0]
    lock = threading.Lock()

    def render(batch: pa.RecordBatch, problems: Problems) -> tuple[object, list]:
        found = Problems()
        frame = _frame(batch, sizes, form.uses_id_json or python, turn_extras=python)
        if lengths is not None:
            frame = frame.join(lengths, on="ord", how="left", maintain_order="left")
            found.add(
                "notes",
                "records whose length is unknown (image size unknown), written without length",
                frame.filter(pl.col("length").is_null())["id"],
            )
        text = form.render(Batch(frame, options, container.sep, python), found)
        with lock:  # two batches render at once
            problems.merge(found)
        holder, buffers = text_buffers(text)
        if options.ensure_ascii:
            buffers = [to_ascii(b"".join(bytes(b) for b in buffers))]
        return holder, buffers

    def write(fd: int, rendered: Future, skip: int) -> int:
        _, buffers = rendered.result()
        size = 0
        for i, buffer in enumerate(buffers):
            view = memoryview(buffer).cast("B")
            view = view[skip:] if i == 0 else view  # the first record's separator, at the file's start
            write_all(fd, view)
            size += len(view)
        return size

    with atomic_file(out) as tmp:
        for sorted_scan in (False, True):
            problems = Problems()
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
            try:
                records, size = _render_all(
                    con, source, sorted_scan, fd, container, render, write, problems, total, progress
                )
            except _OutOfOrder:
                continue
            finally:
                os.close(fd)
            break
        if problems.errors:
            raise SvitError(
                f"{source.name} cannot be written as {form.name}: " + "; ".join(Problems.lines(problems.errors))
            )
    side = form.side_files(out, records, options, problems.facts)
    return ExportResult(source.name, form.name, out, records, size, side, Problems.lines(problems.notes))


def _render_all(con, source, sorted_scan, fd, container, render, write, problems, total, progress) -> tuple[int, int]:
    records = size = 0
    skip = len(container.sep.encode())
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="svit-export-writer") as writer,
        ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="svit-export-render") as renderers,
        _progress(total, progress, source.name) as bar,
    ):
        pending: deque[Future] = deque()
        try:
            for batch in _batches(con, source, sorted_scan):
                if records == 0:
                    write_all(fd, container.head.encode())
                rendered = renderers.submit(render, batch, problems)
                pending.append(writer.submit(write, fd, rendered, skip if records == 0 else 0))
                records += batch.num_rows
                while len(pending) > WRITE_QUEUE:
                    size += pending.popleft().result()  # re-raises the renderer's or writer's error
                bar.update(batch.num_rows)
            while pending:
                size += pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
    ending = (container.tail if records else container.empty).encode()
    write_all(fd, ending)
    return records, size + len(container.head.encode()) * bool(records) + len(ending)


def _export_parquet(con: duckdb.DuckDBPyConnection, source: Source, out: Path, progress: bool) -> ExportResult:
    total = con.execute(source.count_sql).fetchall()[0][0]
    with atomic_folder(out, is_export) as tmp:
        for sorted_scan in (False, True):
            for leftover in tmp.iterdir():
                leftover.unlink()
            with _progress(total, progress, f"{source.name} (parquet)") as bar:

                def frames(sorted_scan=sorted_scan, bar=bar) -> Iterator[pl.DataFrame]:
                    for batch in _batches(con, source, sorted_scan):
                        bar.update(batch.num_rows)
                        frame = _frame(batch, None)
                        if source.media:
                            _one_image_each(frame, source.name)
                        yield frame

                try:
                    records, size = write_shards(frames(), tmp, source.name)
                except _OutOfOrder:
                    continue
            break
    return ExportResult(source.name, "parquet", out, records, size)
