"""SVIT's original files (`data/<task>.json`, `data/svit.json`) into conversations, turns and boxes.

Each file is parsed once, by one DuckDB scan; the two cores each take a file. The scan
yields the turns plus one small row per block (record index, turn count, extra keys,
problems); Python routes them into Parquet (`parquet_writer`). Checks that need a whole
block (a bad turn, a bad box, a repeated image) run afterwards on the small rows; a file
with a block rejected that way is scanned again without it, so a published table never
holds part of a rejected block. Rescans only happen on bad input.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from ingest.boxes import BoxesAside
from ingest.checks import turn_problem
from svit.core.sql import sql_ident, sql_str
from ingest.empty_input import is_empty_json
from ingest.json_punctuation import Punctuation, RawCounter, text_punctuation
from ingest.parquet_writer import ParquetSink, route_batches, split_by
from ingest.sources import SVIT_ALL, Feeds, InputFile
from svit.core.errors import InputError
from svit.core.facts import DETAIL_QUESTIONS, TASKS

# svit.json's grouping is unverified, so there each block's task is inferred from its
# content: marks mean referring; a detail instruction with one QA means detail; several QA
# pairs mean conversation; one plain QA means complex reasoning.
_INFERRED_TASK = """
    case
        when {marked} then 'referring_qa'
        when len(content) = 2 and content[1]."value" in {questions} then 'detail_description'
        when len(content) > 2 then 'conversation'
        else 'complex_reasoning'
    end
"""


def _task_sql(infer_task: str | None, marked: str) -> str:
    """SQL: a block's task, given, or inferred (svit.json); `marked`: whether it holds `<st>`."""
    if infer_task is not None:
        return sql_str(infer_task)
    return _INFERRED_TASK.format(marked=marked, questions="(" + ", ".join(sql_str(q) for q in DETAIL_QUESTIONS) + ")")


def _image_problem_sql(check_images: bool) -> str:
    """SQL: why an item's image_id is unusable beyond its type (absent from image_data.json), or NULL."""
    if not check_images:
        return "null::varchar"
    return (
        "case when try_cast(image_id_json as bigint) not in (select image_id from images_known) "
        "then 'image_id ' || image_id_json || ' is not in image_data.json' end"
    )

_TURN_TYPE = 'struct("from" varchar, "value" varchar)'


@dataclass
class SvitCounts:
    """What one SVIT file gave: image items read, blocks, turns and boxes written, rejects."""

    records_read: int = 0
    blocks_written: int = 0
    turns_written: int = 0
    boxes_written: int = 0
    rejected: int = 0
    reader: str = ""  # which scan was kept: typed, json or tolerant (see _scan_file)


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

    def scan(item: InputFile) -> None:
        counter = (raw_counters or {}).get(item)
        readers[item] = _scan_file(con.cursor(), item, feeds, stage, work, check_images, progress, lock, counter=counter)

    # Most work first, so the two workers finish close together. A referring file counts
    # double: its boxes, taken beside its scan, cost about as much CPU again as parsing it.
    with step("scan + turns"), ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(scan, sorted(files, key=lambda i: -i.size * (2 if i.task == "referring_qa" else 1))))
    if not any(work.glob("*.parquet")):
        # Every scan found no records (an empty array too large for is_empty_json to read):
        # the steps below read what the scans wrote.
        return empty | {item: SvitCounts(reader=readers[item]) for item in files}
    with step("block checks"):
        con.execute(
            f"create or replace temp table svit_rows as select * from read_parquet({sql_str(work / '*.parquet')}, union_by_name = true)"
        )
        _reject_whole_blocks(con)
        _reject_repeated_images(con)
    if "referring_qa" in _tasks_written(stage):
        with step("box checks"):
            _check_boxes(con, stage, work)
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
        counts[item].reader = reader
    return empty | counts


class _Steps:
    """Times each step and says how long it took (when progress is on)."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, label: str):
        started = time.perf_counter()
        yield
        if self.progress:
            tqdm.write(f"  svit {label}: {time.perf_counter() - started:.1f}s")


def _typed_scan_sql(path: str, check_images: bool, infer_task: str | None, extra_keys: list[str]) -> str:
    """The fast scan of a well-formed file: turns read typed, one row per turn.

    A block's first row carries the block (`n_turns`, `extra`); an empty block, or an item
    whose image is unknown, is one row without a turn. Extra block keys are read only when
    named in `extra_keys`. `odd` marks what this reader cannot judge (a missing key, a
    null, an empty item): the caller then uses `_scan_sql`, as it does when the file's
    punctuation shows a key or a non-string value this read did not see (json_punctuation).
    """
    extra_fields = "".join(f", {sql_ident(k)} JSON" for k in extra_keys)
    block_type = f'STRUCT(content STRUCT("from" VARCHAR, "value" VARCHAR)[]{extra_fields})[]'
    # The keys this block has (a key it lacks reads as NULL), as one JSON object; a map keeps
    # their values as written, where json_merge_patch would also drop nested nulls.
    pairs = ", ".join(f"{{'k': {sql_str(k)}, 'v': blk.{sql_ident(k)}}}" for k in extra_keys)
    extra = (
        f"case when coalesce({', '.join(f'blk.{sql_ident(k)}' for k in extra_keys)}) is not null "
        f"then to_json(map_from_entries(list_filter([{pairs}], lambda e: e.v is not null))) end"
        if extra_keys
        else "null::json"
    )
    # The JSON read looks for <st> in the block's text; here the same strings are its turns and extra keys.
    task = _task_sql(
        infer_task,
        "(list_bool_or(list_transform(content, lambda t: contains(t.\"from\", '<st>') or contains(t.\"value\", '<st>')))"
        " or contains(coalesce(extra::varchar, ''), '<st>'))",
    )
    placeholder = f"[null::{_TURN_TYPE}]"
    return f"""
    with items as (
        select ordinality - 1 as record_index, image_id as image_id_json, conversations
        from read_json({path}, format = 'array', columns = {{image_id: 'JSON', conversations: '{block_type}'}}) with ordinality
    ),
    judged_items as (
        select *,
            image_id_json is null or json_type(image_id_json) not in ('UBIGINT', 'BIGINT')
                or conversations is null or len(conversations) = 0 as odd_item,
            {_image_problem_sql(check_images)} as item_problem
        from items
    ),
    blocks as (
        -- Every block is unnested, even of an item rejected whole: the punctuation check
        -- needs all turns; the caller keeps one row of such an item.
        select record_index, image_id_json, odd_item, item_problem,
            unnest(case when len(conversations) > 0 then conversations else [null] end) as blk,
            generate_subscripts(case when len(conversations) > 0 then conversations else [null] end, 1) - 1 as block
        from judged_items
    ),
    typed_blocks as (
        select *, blk.content as content, {extra} as extra, len(blk.content) as n,
            odd_item or blk is null or blk.content is null as odd_block
        from blocks
    ),
    rows as (
        select record_index, image_id_json, block, item_problem, odd_block, n, extra, {task} as task,
            unnest(case when n > 0 then content else {placeholder} end) as t,
            generate_subscripts(case when n > 0 then content else {placeholder} end, 1) - 1 as k
        from typed_blocks
    )
    select
        task,
        record_index::bigint as record_index,
        try_cast(image_id_json as bigint) as image_id,
        block::integer as block,
        case when n > 0 then k::integer end as turn,
        t."from" as role,
        t."value" as text,
        case when item_problem is not null then item_problem
            when n = 0 then 'empty "content"'
            else {turn_problem("t", "k", "user", "gpt", json_leaves=False)}
        end as problem,
        case when k = 0 then coalesce(n, 0)::integer end as n_turns,
        case when k = 0 then extra::varchar end as extra,
        item_problem is not null as item_rejected,
        odd_block or (n > 0 and (t is null or t."from" is null or t."value" is null)) as odd
    from rows
    """


def _scan_sql(path: str, check_images: bool, infer_task: str | None, tolerant: bool, turns_only: bool = False) -> str:
    """One row per turn (`is_turn`) and one per block or unusable image item.

    `turns_only`: just the turns, without the blocks listed in `svit_exclude` (a rescan).
    """
    if tolerant:
        # Any shape: each item whole as JSON, typed afterwards (slower; only for odd files).
        items = f"""
            select ordinality - 1 as record_index,
                case when json_type(json) = 'OBJECT' then json_extract(json, '$.image_id') end as image_id_json,
                case when json_type(json, '$.conversations') = 'ARRAY'
                    then json_transform(json_extract(json, '$.conversations'), '["JSON"]') end as conversations,
                case when json_type(json) <> 'OBJECT' then 'record is a ' || json_type(json) || ', not an object'
                     when json_type(json, '$.conversations') <> 'ARRAY' then '"conversations" is not a list' end as shape_problem,
                json as item_json
            from read_json({path}, format = 'array', records = false, columns = {{json: 'JSON'}}) with ordinality
        """
    else:
        items = f"""
            select ordinality - 1 as record_index, image_id as image_id_json, conversations,
                null::varchar as shape_problem, null::json as item_json
            from read_json({path}, format = 'array', columns = {{image_id: 'JSON', conversations: 'JSON[]'}}) with ordinality
        """
    task = _task_sql(infer_task, "contains(blk::varchar, '<st>')")
    return f"""
    with items as ({items}),
    judged_items as (
        select record_index, image_id_json, conversations, item_problem,
            -- The typed reader has no whole item; _fill_raw reads it again for the reject.
            case when item_problem is not null then item_json::varchar end as item_raw
        from (
            select *,
                case
                    when shape_problem is not null then shape_problem
                    when image_id_json is null then 'missing "image_id"'
                    when json_type(image_id_json) not in ('UBIGINT', 'BIGINT') then '"image_id" is not an integer'
                    when conversations is null then 'missing "conversations"'
                    else {_image_problem_sql(check_images)}
                end as item_problem
            from items
        )
    ),
    blocks as (
        -- An unusable item stays as one row without a block, so it is reported, not dropped.
        select record_index, image_id_json, item_problem, item_raw,
            unnest(case when item_problem is null then conversations else [null::json] end) as blk,
            generate_subscripts(case when item_problem is null then conversations else [null::json] end, 1) - 1 as block
        from judged_items
    ),
    typed as (
        select *,
            json_transform(blk, '{{"content": [{{"from": "VARCHAR", "value": "VARCHAR"}}]}}').content as content,
            -- Most blocks are just {{"content":[...]}}: in DuckDB's compact JSON text another key
            -- either comes first or follows the list as `],"`, which cannot occur inside a
            -- string. Only blocks that fail this cheap test have their keys parsed.
            case when not (starts_with(blk::varchar, '{{"content":[') and not contains(blk::varchar, '],"'))
                and json_type(blk) = 'OBJECT' and len(json_keys(blk)) > 1
                then json_merge_patch(blk, '{{"content": null}}') end as extra
        from blocks
    ),
    judged_blocks as (
        select record_index, image_id_json, block, item_problem, extra, content, problem as block_problem,
            {task} as task,
            case when item_problem is not null then item_raw when problem is not null then blk::varchar end as raw
        from (
            select *,
                case
                    when item_problem is not null then item_problem
                    when content is null or len(content) = 0 then case
                        when json_type(blk) <> 'OBJECT' then 'block is a ' || json_type(blk) || ', not an object'
                        when json_type(blk, '$.content') is null then 'missing "content"'
                        when json_type(blk, '$.content') <> 'ARRAY' then '"content" is not a list'
                        else 'empty "content"' end
                    -- The turns were read as text, which would turn 5 into '5'. In compact JSON a
                    -- key followed by anything but a quote has a non-string value; only such
                    -- blocks get the exact check on JSON-typed turns.
                    when regexp_matches(blk::varchar, '"(?:from|value)":[^"]') then list_filter(
                        list_transform(
                            json_transform(blk, '{{"content": [{{"from": "JSON", "value": "JSON"}}]}}').content,
                            lambda jt, i: {turn_problem("jt", "(i - 1)", "user", "gpt")}),
                        lambda p: p is not null)[1]
                end as problem
            from typed
        )
    ),
    rows as (
        -- Each block's turns, then one more row (t null) that stands for the block itself.
        select record_index, image_id_json, block, block_problem, extra, item_problem, task, raw,
            case when block_problem is null then len(content) else 0 end as n,
            unnest(list_append(case when block_problem is null then content end, null::{_TURN_TYPE})) as t,
            generate_subscripts(list_append(case when block_problem is null then content end, null::{_TURN_TYPE}), 1) - 1 as k
        from judged_blocks
    )
    select
        k < n as is_turn,
        task,
        record_index::bigint as record_index,
        try_cast(image_id_json as bigint) as image_id,
        case when item_problem is null then block::integer end as block,
        case when k < n then k::integer end as turn,
        case when k < n then t."from" end as role,
        case when k < n then t."value" end as text,
        case when k < n then {turn_problem("t", "k", "user", "gpt", json_leaves=False)}
            else block_problem
        end as problem,
        case when k = n then n::integer end as n_turns,
        case when k = n then extra::varchar end as extra,
        case when k = n then raw end as raw
    from rows
    {"where k < n and (record_index, block) not in (select (record_index, block) from svit_exclude)" if turns_only else ""}
    """


# The scans _scan_file tries, in order (tests drop "typed" to compare the two).
READERS = ("typed", "json", "tolerant")


class _NotProven(Exception):
    """The typed read may have dropped a key or coerced a value: read the file as JSON text."""


# Extra block keys are found in the first bytes of a file; one first seen later still
# shows in the punctuation check, and the file is then read the slower way.
KEY_SAMPLE_BYTES = 1 << 20
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:')
_KNOWN_KEYS = {"image_id", "conversations", "content", "from", "value"}


def _extra_key_hint(item: InputFile) -> list[str]:
    """Key names in the first bytes of the file other than SVIT's own, first seen first."""
    try:
        if item.member is None:
            with open(item.path, "rb") as fh:
                head = fh.read(KEY_SAMPLE_BYTES)
        else:
            with zipfile.ZipFile(item.path) as zf, zf.open(item.member) as member:
                head = member.read(KEY_SAMPLE_BYTES)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError):
        return []  # a damaged file: the scan itself reports it, naming the file

    names: dict[str, str] = {}
    for raw in dict.fromkeys(_KEY.findall(head)):
        try:
            name = json.loads(b'"' + raw + b'"')
        except ValueError:
            continue
        # DuckDB's struct fields are case-insensitive: two such names cannot both be fields.
        if name.lower() not in {k.lower() for k in _KNOWN_KEYS}:
            names.setdefault(name.lower(), name)
    counts = Counter(name.lower() for name in names.values())
    return [name for name in names.values() if counts[name.lower()] == 1][:32]


def _scan_file(
    con, item: InputFile, feeds: Feeds, stage: Path, work: Path, check_images: bool, progress: bool, lock,
    turns_only: bool = False, counter: RawCounter | None = None,
) -> str:
    """Parse one SVIT file once: turns into turns/task=<task>/, everything else into the work folder.

    Tried in order: the typed read (`_typed_scan_sql`), kept only when the file's
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
            part = part.drop_columns(["task"])
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
            yield rest_file(pa.Table.from_batches([batch.filter(pc.invert(good))]).drop_columns(["is_turn", "role", "text"]))

    seen = _TypedTally()

    def route_typed(batch: pa.RecordBatch):
        if pc.any(batch.column("odd")).as_py():
            raise _NotProven("a record the typed read cannot judge")
        seen.add(batch)
        turn, problem = batch.column("turn"), batch.column("problem")
        yield from turns_of(batch, pc.and_(pc.is_valid(turn), pc.is_null(problem)))
        yield rest_file(_typed_rest(batch))

    modes = [mode for mode in READERS if not (turns_only and mode == "typed")]
    # The file's punctuation: counted by the caller, else here (a zip member as it is fed).
    count_here = counter is None
    counter = counter or RawCounter()
    try:
        for mode in modes:
            try:
                taps = {item: counter.feed} if mode == "typed" and item.member else None
                # Read before the pipe is fed: nothing may fail between feeding and DuckDB's open.
                extra_keys = _extra_key_hint(item) if mode == "typed" else []
                # A rescan leaves out blocks already rejected: their marks were checked.
                marks = None if turns_only else work / "marks" / f"{stem}.parquet"
                with feeds.feeding([item], taps), ParquetSink() as sink, \
                        BoxesAside(stage / "boxes" / "task=referring_qa" / f"{stem}.parquet", marks) as boxes:
                    if mode == "typed":
                        if item.member is None and count_here:
                            threading.Thread(target=counter.count_file, args=(item.path,), daemon=True).start()
                        sql = _typed_scan_sql(sql_str(feeds.path(item)), check_images, infer, extra_keys)
                        route_batches(con.sql(sql).to_arrow_reader(65_536), sink, route_typed, advance)
                    else:
                        sql = _scan_sql(sql_str(feeds.path(item)), check_images, infer, mode == "tolerant", turns_only)
                        route_batches(con.sql(sql).to_arrow_reader(65_536), sink, route, advance)
                if mode == "typed":
                    if item.member is None:
                        counter.done.wait()
                    seen.prove(counter.counts, read)
                if progress:
                    elapsed = time.perf_counter() - started
                    with lock:
                        tqdm.write(f"  {item.name}: {read:,} records, {item.size / 1e6:,.0f} MB in {elapsed:.1f}s "
                                   f"({read / elapsed:,.0f} records/s, {item.size / 1e6 / elapsed:,.0f} MB/s, {mode} read)")
                return mode
            except _NotProven:
                _remove_outputs(stage, work, stem)
                continue
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                # Errors met while streaming arrive through Arrow as OSError with DuckDB's text.
                _remove_outputs(stage, work, stem)
                message = _first_line(exc)
                if not isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException)) and "Input Error" not in message:
                    raise
                # A record or list of the wrong shape fails a typed reader: read more of it as JSON.
                if mode != "tolerant" and "transform error" in message.lower():
                    continue
                raise InputError(f"{item.display}: not a readable JSON array ({message}); is the file complete?") from exc
    finally:
        bar.close()
    raise AssertionError("the tolerant reader either reads a file or raises")


class _TypedTally:
    """What the typed read saw: blocks, turns, and the punctuation inside their strings."""

    def __init__(self) -> None:
        self.blocks = self.turns = 0
        self.inside = Punctuation()

    def add(self, batch: pa.RecordBatch) -> None:
        self.blocks += len(batch) - batch.column("n_turns").null_count
        self.turns += len(batch) - batch.column("turn").null_count
        for column in ("role", "text", "extra"):
            self.inside += text_punctuation(batch.column(column))

    def prove(self, raw: Punctuation, records: int) -> None:
        # Each record has image_id and conversations, each block content, each turn from and
        # value; extra block keys are inside `extra`'s text with their own colons and quotes.
        keys = 2 * records + self.blocks + 2 * self.turns
        expected = Punctuation(2 * keys + 2 * (2 * self.turns) + self.inside.quotes, keys + self.inside.colons)
        if raw.hiding_escapes or (raw.quotes, raw.colons) != (expected.quotes, expected.colons):
            raise _NotProven(f"punctuation {raw} against {expected}")


def _typed_rest(batch: pa.RecordBatch) -> pa.Table:
    """The typed scan's rows in the shape of `_scan_sql`'s: one row per block or rejected
    item (no turn), plus the turns with a problem."""
    batch = batch.drop_columns(["role", "text"])  # not copied by the filters below
    turn, problem, rejected_item, block = (batch.column(c) for c in ("turn", "problem", "item_rejected", "block"))
    no_int = pa.scalar(None, pa.int32())
    # An item rejected whole keeps one row, without a block, as `_scan_sql` gives it.
    is_block = pc.and_(pc.is_valid(batch.column("n_turns")), pc.or_(pc.invert(rejected_item), pc.equal(block, 0)))
    blocks = batch.filter(is_block)
    b_rejected, b_turn = blocks.column("item_rejected"), blocks.column("turn")
    block_rows = pa.table(
        {
            "task": blocks.column("task"),
            "record_index": blocks.column("record_index"),
            "image_id": blocks.column("image_id"),
            "block": pc.if_else(b_rejected, no_int, blocks.column("block")),
            "turn": pa.nulls(len(blocks), pa.int32()),
            # A turn's problem stays on the turn's row; the block takes it in _reject_whole_blocks.
            "problem": pc.if_else(
                pc.and_(pc.is_valid(b_turn), pc.invert(b_rejected)), pa.scalar(None, pa.string()), blocks.column("problem")
            ),
            "n_turns": pc.if_else(b_rejected, pa.scalar(0, pa.int32()), blocks.column("n_turns")),
            "extra": pc.if_else(b_rejected, pa.scalar(None, pa.string()), blocks.column("extra")),
            "raw": pa.nulls(len(blocks), pa.string()),
        }
    )
    bad = batch.filter(pc.and_(pc.and_(pc.is_valid(turn), pc.is_valid(problem)), pc.invert(rejected_item)))
    turn_rows = pa.table(
        {
            "task": bad.column("task"),
            "record_index": bad.column("record_index"),
            "image_id": bad.column("image_id"),
            "block": bad.column("block"),
            "turn": bad.column("turn"),
            "problem": bad.column("problem"),
            "n_turns": pa.nulls(len(bad), pa.int32()),
            "extra": pa.nulls(len(bad), pa.string()),
            "raw": pa.nulls(len(bad), pa.string()),
        }
    )
    return pa.concat_tables([block_rows, turn_rows])


def _remove_outputs(stage: Path, work: Path, stem: str, keep_work: bool = False) -> None:
    outputs = list(stage.glob(f"turns/task=*/{stem}.parquet")) + list(stage.glob(f"boxes/task=*/{stem}.parquet"))
    for path in outputs + ([] if keep_work else [work / f"{stem}.parquet", work / "marks" / f"{stem}.parquet"]):
        path.unlink(missing_ok=True)


def _tasks_written(stage: Path) -> list[str]:
    return [task for task in TASKS if any((stage / "turns" / f"task={task}").glob("*.parquet"))]


def _reject_whole_blocks(con) -> None:
    """A block with a bad turn is rejected whole: its block row takes the first turn's problem."""
    con.execute(
        """
        update svit_rows b set problem = t.problem
        from (select file_name, record_index, block, arg_min(problem, turn) as problem
              from svit_rows where turn is not null and problem is not null group by all) t
        where b.turn is null and b.problem is null
          and b.file_name = t.file_name and b.record_index = t.record_index and b.block = t.block
        """
    )


def _reject_repeated_images(con) -> None:
    """A second image item with the same image_id in one file is rejected (each of its blocks)."""
    con.execute(
        """
        update svit_rows b set problem = 'image_id ' || b.image_id || ' repeats record ' || f.first_record
        from (select file_name, image_id, min(record_index) as first_record from svit_rows
              where turn is null and image_id is not null group by all
              having min(record_index) < max(record_index)) f  -- only repeated images: the join stays small
        where b.turn is null and b.problem is null and b.file_name = f.file_name
          and b.image_id = f.image_id and b.record_index > f.first_record
        """
    )


def _check_boxes(con, stage: Path, work: Path) -> None:
    """Reject referring blocks whose marks or boxes are unusable.

    The marks were checked while the boxes were taken (ingest/boxes.py): their problems wait
    in the work folder. A block takes the first problem of each kind, then the smaller one.
    """
    problems = []
    if any((work / "marks").glob("*.parquet")):
        problems.append(
            f"select image_id, block, arg_min(problem, turn) as problem "
            f"from read_parquet({sql_str(work / 'marks' / '*.parquet')}) group by all"
        )
    if any((stage / "boxes" / "task=referring_qa").glob("*.parquet")):
        problems.append(
            f"""
            select image_id, block, arg_min('turn ' || turn || ': ' || case
                    when x1 is null or y1 is null or x2 is null or y2 is null then 'malformed box ' || box_text
                    when least(x1, y1, x2, y2) < 0 or greatest(x1, y1, x2, y2) > 1 then 'box ' || box_text || ' outside 0..1'
                    when x2 < x1 then 'box ' || box_text || ' has x2 < x1'
                    else 'box ' || box_text || ' has y2 < y1'
                end, (turn, mark_index, box_index)) as problem
            from read_parquet({sql_str(stage / 'boxes' / 'task=referring_qa' / '*.parquet')})
            where x1 is null or y1 is null or x2 is null or y2 is null
               or least(x1, y1, x2, y2) < 0 or greatest(x1, y1, x2, y2) > 1 or x2 < x1 or y2 < y1
            group by all
            """
        )
    if not problems:
        return
    con.execute(f"create or replace temp table svit_box_problems as {' union all '.join(problems)}")
    con.execute(
        """
        update svit_rows b set problem = p.problem
        from (select image_id, block, min(problem) as problem from svit_box_problems group by all) p
        where b.task = 'referring_qa' and b.turn is null and b.problem is null
          and b.image_id = p.image_id and b.block = p.block
        """
    )


def _rescan_without_rejected(con, files, feeds, stage, work, check_images, progress, lock) -> None:
    """Write the turns again for files with a block rejected after its turns were written.

    Such blocks (a bad turn, a bad box, a repeated image) have no JSON kept yet; a rescan is
    a full parse of the file, so it only happens on bad input.
    """
    for item in files:
        late = f"""
            select record_index, block from svit_rows
            where file_name = {sql_str(item.name)} and turn is null and block is not null and problem is not null and raw is null
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
        ) to {sql_str(stage / 'conversations')} (format parquet, compression zstd, compression_level 1,
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
    box_files = list(stage.glob("boxes/task=referring_qa/*.parquet"))
    boxes = (
        con.execute(f"select count(*) from read_parquet({sql_str(stage / 'boxes' / 'task=referring_qa' / '*.parquet')})").fetchall()[0][0]
        if box_files
        else 0
    )
    by_name = {row[0]: row[1:] for row in rows}
    counts = {}
    for item in files:
        read, blocks, turns, rejected = by_name.get(item.name, (0, 0, 0, 0))
        counts[item] = SvitCounts(read, blocks, turns, boxes if item.task == "referring_qa" else 0, rejected)
    return counts


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
