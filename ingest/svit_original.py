"""The scan driver for SVIT's original files (`data/<task>.json`, `data/svit.json`): each
file into conversations, turns and boxes, with rejects and counts.

Each file is parsed once, by one DuckDB scan (ingest/svit_scan_sql.py); the two cores each
take a file. The scan yields the turns plus one small row per block (record index, turn
count, extra keys, problems); Python routes them into Parquet (`parquet_writer`) and takes
the referring boxes beside it (`boxes`). Checks that need a whole block (a bad turn, a bad
box, a repeated image; ingest/svit_block_checks.py) run afterwards on the small rows; a
file with a block rejected that way is scanned again without it, so a published table
never holds part of a rejected block. Rescans only happen on bad input.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from ingest import duck
from ingest.boxes import BoxesAside
from ingest.empty_input import is_empty_json
from ingest.json_punctuation import RawCounter
from ingest.parquet_writer import ParquetSink, route_batches, split_by
from ingest.sources import SVIT_ALL, Feeds, InputFile
from ingest.svit_block_checks import check_boxes, reject_repeated_images, reject_whole_blocks
from ingest.svit_scan_sql import json_scan_sql, typed_scan_sql
from ingest.svit_typed_read import NotProven, TypedTally, extra_key_hint, typed_rest
from svit.core.errors import InputError, first_line
from svit.core.facts import TASKS
from svit.core.sql import sql_str
from svit.core.word_counts import word_counts

# The scans _scan_file tries, in order (tests drop "typed" to compare the two).
READERS = ("typed", "json", "tolerant")

# Extra block keys are looked for in this many first bytes of a file (extra_key_hint).
KEY_SAMPLE_BYTES = 1 << 20


@dataclass
class SvitCounts:
    """What one SVIT file gave: image items read, blocks, turns and boxes written, rejects."""

    records_read: int = 0
    blocks_written: int = 0
    turns_written: int = 0
    boxes_written: int = 0
    rejected: int = 0
    reader: str = ""  # which scan was kept: typed, json or tolerant (see _scan_file)
    seconds: float = 0.0  # the file's own scan (two run at once), for its rate


def ingest_svit_files(
    con: duckdb.DuckDBPyConnection,
    files: list[InputFile],
    feeds: Feeds,
    stage: Path,
    check_images: bool,
    progress: bool,
    raw_counters: dict[InputFile, RawCounter] | None = None,
) -> dict[InputFile, SvitCounts]:
    """Write conversations, turns and boxes for `files`; rejected blocks go into `rejects`.

    `raw_counters`: the punctuation of plain files, counted elsewhere (while hashing them);
    files without one are counted during their scan.
    """
    # A file with no records (0 bytes, `[]`) has nothing to scan.
    empty = {item: SvitCounts() for item in files if is_empty_json(item)}
    files = [item for item in files if item not in empty]
    if not files:
        return empty
    work = stage / ".work" / "svit"
    lock = threading.Lock()
    step = _Steps(progress)

    readers: dict[InputFile, str] = {}
    seconds: dict[InputFile, float] = {}

    def scan(item: InputFile) -> None:
        counter = (raw_counters or {}).get(item)
        started = time.perf_counter()
        readers[item] = _scan_file(
            con.cursor(), item, feeds, stage, work, check_images, progress, lock, counter=counter
        )
        seconds[item] = time.perf_counter() - started

    # Most work first, so the two workers finish close together. A referring file counts
    # double, for the boxes taken beside its scan (see bench/README.md).
    with step("scan + turns"), ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(scan, sorted(files, key=lambda i: -i.size * (2 if i.task == "referring_qa" else 1))))
    if not any(work.glob("*.parquet")):
        # Every scan found no records (an empty array too large for is_empty_json to read):
        # the steps below read what the scans wrote.
        return empty | {item: SvitCounts(reader=readers[item], seconds=seconds[item]) for item in files}
    with step("block checks"):
        con.execute(
            "create or replace temp table svit_rows as select * "
            f"from read_parquet({sql_str(work / '*.parquet')}, union_by_name = true)"
        )
        reject_whole_blocks(con)
        reject_repeated_images(con)
    if "referring_qa" in _tasks_written(stage):
        with step("box checks"):
            check_boxes(con, _referring_boxes(stage, "*"), _marks_file(work, "*"))
    with step("rescans (bad input only)"):
        _rescan_without_rejected(con, files, feeds, stage, work, check_images, progress, lock)
    with step("conversations + rejects"):
        _fill_raw(con, files, feeds)
        _write_conversations(con, stage)
    con.execute(
        """
        insert into rejects
        select file_name, path, record_index, block, problem, raw from svit_rows
        where turn is null and problem is not null
        order by file_name, record_index, block nulls first
        """
    )
    counts = _counts(con, files, stage)
    for item, reader in readers.items():
        counts[item].reader, counts[item].seconds = reader, seconds[item]
    return empty | counts


class _Steps:
    """Times each step and says how long it took (when progress is on): a detail line, which
    `svit ingest` shows only with --verbose (ingest/pipeline.py)."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, label: str):
        started = time.perf_counter()
        yield
        if self.progress:
            duck.detail(f"  svit {label}: {time.perf_counter() - started:.1f}s")


def _scan_file(
    con,
    item: InputFile,
    feeds: Feeds,
    stage: Path,
    work: Path,
    check_images: bool,
    progress: bool,
    lock,
    turns_only: bool = False,
    counter: RawCounter | None = None,
) -> str:
    """Parse one SVIT file once: turns into turns/task=<task>/, everything else into the work folder.

    Tried in order: the typed read (`typed_scan_sql`), kept only when the file's
    punctuation proves it saw everything; the read of blocks as JSON text; and, for a file
    whose items have odd shapes, each item read whole. Returns the reader that was kept.
    """
    infer = None if item.kind == SVIT_ALL else item.task
    stem = Path(item.name).stem
    bar = tqdm(desc=item.name, unit=" records", unit_scale=True, disable=None if progress else True, leave=False)
    started = time.perf_counter()
    read = 0

    def advance(batch: pa.RecordBatch) -> None:
        nonlocal read
        records = batch.column("record_index")
        if len(records):
            read = max(read, pc.max(records).as_py() + 1)
            bar.n = read
            bar.refresh()

    def turns_of(batch: pa.RecordBatch, good: pa.Array):
        turns = batch.select(["task", "image_id", "block", "turn", "role", "text"])
        if good.false_count or good.null_count:  # filtering copies the text: only when needed
            turns = turns.filter(good)
        for task, part in split_by(turns, "task"):
            # Each turn's words, counted once here for the statistics (svit/core/word_counts.py).
            part = part.drop_columns(["task"]).append_column("words", word_counts(part.column("text")))
            yield stage / "turns" / f"task={task}" / f"{stem}.parquet", part
            if task == "referring_qa":
                boxes.add(part)

    def rest_file(rest: pa.Table):
        n = rest.num_rows
        rest = rest.append_column("file_name", pa.repeat(pa.scalar(item.name, pa.string()), n))
        return work / f"{stem}.parquet", rest.append_column("path", pa.repeat(pa.scalar(item.display, pa.string()), n))

    def route(batch: pa.RecordBatch):
        good = pc.and_(batch.column("is_turn"), pc.is_null(batch.column("problem")))
        yield from turns_of(batch, good)
        if not turns_only:
            yield rest_file(
                pa.Table.from_batches([batch.filter(pc.invert(good))]).drop_columns(["is_turn", "role", "text"])
            )

    seen = TypedTally()

    def route_typed(batch: pa.RecordBatch):
        if pc.any(batch.column("odd")).as_py():
            raise NotProven("a record the typed read cannot judge")
        seen.add(batch)
        turn, problem = batch.column("turn"), batch.column("problem")
        yield from turns_of(batch, pc.and_(pc.is_valid(turn), pc.is_null(problem)))
        yield rest_file(typed_rest(batch))

    modes = [mode for mode in READERS if not (turns_only and mode == "typed")]
    # The file's punctuation: counted by the caller, else here (a zip member as it is fed).
    count_here = counter is None
    counter = counter or RawCounter()
    try:
        for mode in modes:
            try:
                taps = {item: counter.feed} if mode == "typed" and item.member else None
                # Read before the pipe is fed: nothing may fail between feeding and DuckDB's open.
                extra_keys = extra_key_hint(item, KEY_SAMPLE_BYTES) if mode == "typed" else []
                # A rescan leaves out blocks already rejected: their marks were checked.
                marks = None if turns_only else _marks_file(work, stem)
                with (
                    feeds.feeding([item], taps),
                    ParquetSink() as sink,
                    BoxesAside(_referring_boxes(stage, stem), marks) as boxes,
                ):
                    if mode == "typed":
                        if item.member is None and count_here:
                            threading.Thread(target=counter.count_file, args=(item.path,), daemon=True).start()
                        sql = typed_scan_sql(sql_str(feeds.path(item)), check_images, infer, extra_keys)
                        route_batches(con.sql(sql).to_arrow_reader(65_536), sink, route_typed, advance)
                    else:
                        sql = json_scan_sql(
                            sql_str(feeds.path(item)), check_images, infer, mode == "tolerant", turns_only
                        )
                        route_batches(con.sql(sql).to_arrow_reader(65_536), sink, route, advance)
                if mode == "typed":
                    if item.member is None:
                        counter.done.wait()
                    seen.prove(counter.counts, read)
                if progress:
                    elapsed = time.perf_counter() - started
                    with lock:
                        duck.detail(
                            f"  {item.name}: {read:,} records, {item.size / 1e6:,.0f} MB in {elapsed:.1f}s "
                            f"({read / elapsed:,.0f} records/s, {item.size / 1e6 / elapsed:,.0f} MB/s, {mode} read)"
                        )
                return mode
            except NotProven:
                _remove_outputs(stage, work, stem)
                continue
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                # Errors met while streaming arrive through Arrow as OSError with DuckDB's text.
                _remove_outputs(stage, work, stem)
                message = first_line(exc)
                if (
                    not isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException))
                    and "Input Error" not in message
                ):
                    raise
                # A record or list of the wrong shape fails a typed reader: read more of it as JSON.
                if mode != "tolerant" and "transform error" in message.lower():
                    continue
                raise InputError(
                    f"{item.display}: not a readable JSON array ({message}); is the file complete?"
                ) from exc
    finally:
        bar.close()
    raise AssertionError("the tolerant reader either reads a file or raises")


def _remove_outputs(stage: Path, work: Path, stem: str, keep_work: bool = False) -> None:
    outputs = list(stage.glob(f"turns/task=*/{stem}.parquet")) + list(stage.glob(f"boxes/task=*/{stem}.parquet"))
    for path in outputs + ([] if keep_work else [work / f"{stem}.parquet", _marks_file(work, stem)]):
        path.unlink(missing_ok=True)


def _referring_boxes(stage: Path, stem: str) -> Path:
    """The boxes the scan of `<stem>.json` takes from its referring turns; stem "*": all of them."""
    return stage / "boxes" / "task=referring_qa" / f"{stem}.parquet"


def _marks_file(work: Path, stem: str) -> Path:
    """Where the scan of `<stem>.json` leaves the problems of its marks (ingest/boxes.py) for
    the box check; stem "*": all of them."""
    return work / "marks" / f"{stem}.parquet"


def _tasks_written(stage: Path) -> list[str]:
    return [task for task in TASKS if any((stage / "turns" / f"task={task}").glob("*.parquet"))]


def _rescan_without_rejected(con, files, feeds, stage, work, check_images, progress, lock) -> None:
    """Write the turns again for files with a block rejected after its turns were written.

    Such blocks (a bad turn, a bad box, a repeated image) have no JSON kept yet; a rescan is
    a full parse of the file, so it only happens on bad input.
    """
    for item in files:
        name = sql_str(item.name)
        late = f"""
            select record_index, block from svit_rows
            where file_name = {name} and turn is null and block is not null and problem is not null and raw is null
        """
        if not con.execute(f"select count(*) from ({late})").fetchall()[0][0]:
            continue
        con.execute(f"create or replace table svit_exclude as {late}")
        _remove_outputs(stage, work, Path(item.name).stem, keep_work=True)
        _scan_file(con, item, feeds, stage, work, check_images, progress, lock, turns_only=True)


def _fill_raw(con, files: list[InputFile], feeds: Feeds) -> None:
    """Give each reject that has no JSON yet (found after the scan) its item or block; bad input only."""
    missing = con.execute(
        "select distinct file_name from svit_rows where turn is null and problem is not null and raw is null"
    ).fetchall()
    for (file_name,) in missing:
        item = next(i for i in files if i.name == file_name)
        with feeds.feeding([item]):
            con.execute(
                f"""
                update svit_rows b
                set raw = case when b.block is null then r.json
                               else json_extract(r.json, '$.conversations[' || b.block || ']') end::varchar
                from (
                    select ordinality - 1 as record_index, json
                    from read_json({sql_str(feeds.path(item))}, format = 'array', records = false,
                                   columns = {{json: 'JSON'}}) with ordinality
                ) r
                where b.file_name = {sql_str(file_name)} and b.turn is null and b.problem is not null and b.raw is null
                  and b.record_index = r.record_index
                """
            )


def _write_conversations(con, stage: Path) -> None:
    con.execute(
        f"""
        copy (
            select task, image_id, block, n_turns, file_name as source_file, record_index, extra::json as extra
            from svit_rows
            where turn is null and problem is null
            order by file_name, record_index, block
        ) to {sql_str(stage / "conversations")} (format parquet, compression zstd, compression_level 1,
            partition_by (task), overwrite_or_ignore, filename_pattern 'conversations_{{i}}')
        """
    )


def _counts(con, files: list[InputFile], stage: Path) -> dict[InputFile, SvitCounts]:
    rows = con.execute(
        """
        select file_name,
            count(distinct record_index),
            count(*) filter (where turn is null and problem is null),
            coalesce(sum(n_turns) filter (where turn is null and problem is null), 0),
            count(*) filter (where turn is null and problem is not null)
        from svit_rows group by file_name
        """
    ).fetchall()
    box_files = _referring_boxes(stage, "*")
    boxes = (
        con.execute(f"select count(*) from read_parquet({sql_str(box_files)})").fetchall()[0][0]
        if any(box_files.parent.glob(box_files.name))
        else 0
    )
    by_name = {row[0]: row[1:] for row in rows}
    counts = {}
    for item in files:
        read, blocks, turns, rejected = by_name.get(item.name, (0, 0, 0, 0))
        # The boxes written now are all of the one file that holds referring_qa (svit.json holds
        # every task, and is never read with the task files).
        holds_boxes = item.task == "referring_qa" or item.kind == SVIT_ALL
        counts[item] = SvitCounts(read, blocks, turns, boxes if holds_boxes else 0, rejected)
    return counts
