"""Running `svit export`: the query, the rendering, and the atomic write of the output.

Where the records come from:

- a dbt mart in `<warehouse>/svit.duckdb` with the LLaVA columns (`id`, `image`,
  `conversations`, `record_order`), in `record_order`;
- an ingested LLaVA file, by its model name (the `source` partition of `llava_records` /
  `llava_turns`), in `record_index` order, with the id's JSON type, image absent vs present
  and the extra keys of records and turns.

How the JSON is made: for `llava` and `jsonl` records without extra keys (the SVIT marts,
LLaVA files without them) and without `--ascii`, DuckDB hands over each batch's columns as they are
(id text, image, the list of turns) and a compiled loop (`json_kernel.py` beside this module, numba)
writes the records' text on two threads, json.dumps's escaping and spacing included, while
DuckDB reads the next batches; a writer thread puts each batch's text into the file. The
rest, and `messages`, is rendered by DuckDB: every record to its final text (a record's
turns written by one `to_json` of the whole list, then the spacing of `json.dumps` put
between its keys; each record already carrying the separator that goes before it), handed
over in Arrow batches whose string buffers are written as they are. Python touches that
text only for what DuckDB writes differently from `json.dumps`: control characters escaped
with upper-case hex (`\\u001F`, fixed on the few batches that hold one), extra keys
(rendered by `json.dumps` through a UDF, so numbers and nesting print as Python prints
them), and `--ascii`.

Output is written to a temporary file (or folder) beside `--out` and renamed when complete.
`--out` may not lie inside the warehouse, except under `<warehouse>/exports/`
(svit/core/output_guard.py). The temporary file (or folder), and DuckDB's spill folder, are named
after the process writing them, so the next export removes those a killed run left behind
and leaves alone those of a run still going.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from svit.core import models_db, settings
from svit.core.arrow_strings import string_bytes
from svit.core.errors import SvitError
from svit.core.leftovers import OWNER, owner_tag, remove_dead
from svit.core.malloc import keep_batches_in_heap
from svit.core.models_db import LLAVA_COLUMNS, MODEL_PARTS, MODELS_CATALOG
from svit.core.output_guard import check_output
from svit.core.snapshots import current_snapshot
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse
from svit.export.layout import Layout

FORMATS = ("llava", "jsonl", "messages", "parquet")
BATCH_ROWS = 50_000
# Rendered batches waiting for the writer: enough to ride out a slow moment of the disk under
# O_DIRECT without more peak memory (bench/README.md, export).
WRITE_QUEUE = 6
# The compiled rendering (svit/export/json_kernel.py) holds each batch twice, as DuckDB's columns
# and as text, so it takes half the rows and lets fewer wait: a lower peak in the same time.
KERNEL_BATCH_ROWS = 25_000
KERNEL_WRITE_QUEUE = 3
# Batches the compiled rendering works on at once (svit/export/json_kernel.py).
RENDER_THREADS = 2
# The compiled rendering for llava / jsonl without extra keys or --ascii; False: SQL for all.
USE_KERNEL = True
NULL_RECORD = "a record rendered as NULL (an unexpected NULL in the model)"
PARQUET_SHARD_BYTES = "500MB"
PARQUET_ROW_GROUP_BYTES = 200_000_000

_CONTROL_UPPER = rb"u00[01][0-9A-F]"
_FIX_CONTROL = re.compile(rb"\\(\\|" + _CONTROL_UPPER + rb")")
_FIX_ASCII = re.compile(rb"\\(\\|x[0-9a-f]{2}|U[0-9a-f]{8}|" + _CONTROL_UPPER + rb")")


@dataclass
class ExportResult:
    model: str
    fmt: str
    out: Path
    records: int
    bytes: int


# --------------------------------------------------------------------------- leftovers

# A killed run's temporary files are named after their owner (pid and host), so the next
# export removes them and leaves a live run's alone (svit/core/leftovers.py).
PARTIAL_SUFFIX = ".partial"
TEMP_DIR_PREFIX = "svit-export-"
_PARTIAL_NAME = re.compile(rf"^\..+\.{OWNER}\.[a-z0-9_]+\.partial$")
_TEMP_DIR_NAME = re.compile(rf"^svit-export-{OWNER}-")


def partial_prefix(out: Path) -> str:
    """The start of the temporary file's (or folder's) name beside `out`; a random part and `.partial` follow."""
    return f".{out.name}.{owner_tag()}."


def remove_leftovers(folder: Path, pattern: re.Pattern = _PARTIAL_NAME) -> list[Path]:
    """Remove the temporary files and folders in `folder` left by killed exports of this host."""
    return remove_dead(folder, pattern)


class _OutOfOrder(Exception):
    """The storage order of a model did not follow record_order: export again, sorted."""


def record_sql(
    layout: Layout,
    prefix: str,
    record_extras: bool = True,
    turn_extras: bool = True,
    suffix: str = "",
) -> str:
    """SQL rendering one LLaVA record (columns id_text, has_image, image, extra, turns) as JSON text.

    Keys in LLaVA's order: id, image (only when the record has one), the extra keys (where
    LLaVA's own mix has its `model` key), conversations; turn keys: from, value, extra keys.
    Without turn extras, `turns` must be a list of {from, value} structs. A record whose id,
    or image where it has one, is NULL renders as NULL (the writer stops on it).
    """
    L = layout
    record_members = "coalesce(svit_extra_members(extra, 2), '')" if record_extras else "''"
    conversations = _turns_sql(L, turn_extras)
    image_key = sql_str(L.sep(2) + '"image": ')
    pieces = [
        sql_str(prefix + "{" + L.open(2) + '"id": '),
        "id_text",
        f"case when has_image then {image_key} || to_json(image)::varchar else '' end",
        record_members,
        sql_str(L.sep(2) + '"conversations": '),
        f"case when coalesce(len(turns), 0) = 0 then '[]' else {conversations} end",
        sql_str(L.close(1) + "}" + suffix),
    ]
    # One concat() of all pieces: a chain of || copies the record once per operator.
    # concat() skips NULLs where || propagates them, hence the explicit check.
    return f"case when id_text is null or (has_image and image is null) then null else concat({', '.join(pieces)}) end"


def _turns_sql(L: Layout, turn_extras: bool) -> str:
    """SQL rendering a non-empty `turns` list as the JSON text of `conversations`."""
    if turn_extras:
        # The UDF costs a Python round trip per vector even on NULLs: only called where extras exist.
        turn = (
            f"'{{' || {sql_str(L.open(4))} || '\"from\": ' || to_json(t.\"from\")::varchar || {sql_str(L.sep(4))}"
            f' || \'"value": \' || to_json(t."value")::varchar'
            f" || coalesce(svit_extra_members(t.extra, 4), '') || {sql_str(L.close(3))} || '}}'"
        )
        return (
            f"'[' || {sql_str(L.open(3))} || "
            f"array_to_string(list_transform(turns, lambda t: {turn}), {sql_str(L.sep(3))})"
            f" || {sql_str(L.close(2))} || ']'"
        )
    # DuckDB writes the whole list in one call (much faster than a lambda per turn), compact:
    # [{"from":"human","value":"..."},{"from":...}]. Only the punctuation between the keys
    # differs from json.dumps, and every such place holds a quote that is not escaped, which
    # text inside a string can never hold; so these replacements cannot touch the text.
    text = "to_json(turns)::varchar"
    for compact, spaced in (
        ('[{"from":', "[" + L.open(3) + "{" + L.open(4) + '"from": '),
        (',"value":', L.sep(4) + '"value": '),
        ('},{"from":', L.close(3) + "}" + L.sep(3) + "{" + L.open(4) + '"from": '),
    ):
        text = f"replace({text}, {sql_str(compact)}, {sql_str(spaced)})"
    if L.indent is None:
        return text  # `}]` closes the list as json.dumps closes it
    # The last value is a string or null, so the list ends in exactly `}]`.
    return f"rtrim({text}, '}}]') || {sql_str(L.close(3) + '}' + L.close(2) + ']')}"


def messages_sql() -> str:
    """SQL rendering one record as an OpenAI-style chat record (one JSON line).

    A turn's text is split at each `<image>`; an image part stands where the token stood,
    and the newline that joined the token to the text goes with it.
    """
    pieces = "string_split(t.\"value\", '<image>')"
    n = f"len({pieces})"
    lead = "case when i > 1 and starts_with(p, chr(10)) then p[2:] else p end"
    piece = f"case when i < {n} and ends_with({lead}, chr(10)) then ({lead})[:-2] else {lead} end"
    parts = (
        f"flatten(list_transform({pieces}, lambda p, i: "
        '(case when i > 1 then [\'{"type": "image"}\'::json] else []::json[] end) || '
        f"(case when {piece} <> '' or {n} = 1 "
        f"then [json_object('type', 'text', 'text', {piece})] else []::json[] end)))"
    )
    message = (
        "json_object('role', case t.\"from\" when 'human' then 'user' when 'gpt' then 'assistant' else t.\"from\" end, "
        f"'content', to_json({parts}))"
    )
    return (
        "json_object('id', id_text::json, 'images', to_json(case when has_image then [image] else []::varchar[] end), "
        f"'messages', to_json(coalesce(list_transform(turns, lambda t: {message}), []::json[])))::varchar || chr(10)"
    )


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """Where a model's records come from: SQL relations giving the uniform record columns."""

    name: str
    kind: str  # "mart" or "llava_file"
    parts: list[str]  # SQL relations, exported one after the other (already in order, checked)
    sorted_sql: str  # the whole model, sorted: the fallback
    count_sql: str
    record_extras: bool = False  # any record has keys besides id, image, conversations
    turn_extras: bool = False  # any turn has keys besides from, value


def open_connection(warehouse: Warehouse, layout: Layout) -> tuple[duckdb.DuckDBPyConnection, Path]:
    remove_leftovers(Path(tempfile.gettempdir()), _TEMP_DIR_NAME)
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_DIR_PREFIX}{owner_tag()}-"))
    con = duckdb.connect(
        config={
            "threads": settings.duckdb_threads(),
            # Below this the scan of the marts plus the rendered batches waiting for Python keep
            # DuckDB's buffer pool at its limit: every eviction flushes its allocators (jemalloc
            # purge and malloc_trim), memory goes back to the OS and is faulted in again.
            "memory_limit": settings.export_memory_limit(),
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": True,
        }
    )
    con.execute("set enable_progress_bar = false")  # DuckDB's bar writes to stdout; ours is on stderr
    # Batches are large, short-lived strings: freeing them on a background thread is faster.
    con.execute("set allocator_background_threads = true")
    # Room for rendered records to wait until Python takes them: with the default a DuckDB
    # thread that got ahead sits idle (bench/README.md, export).
    con.execute("set streaming_buffer_size = '400MB'")
    con.create_function(
        "svit_extra_members",
        _cached(layout.members),
        ["VARCHAR", "INTEGER"],
        "VARCHAR",
        side_effects=False,
    )
    if warehouse.duckdb_path.is_file():
        try:
            models_db.attach(con, warehouse)
        except SvitError:
            con.close()
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
    return con, temp_dir


def _cached(fn: Callable[[str, int], str]) -> Callable[[str, int], str]:
    cache: dict[tuple[str, int], str] = {}

    def wrapped(text: str, level: int) -> str:
        key = (text, level)
        if key not in cache:
            if len(cache) > 100_000:
                cache.clear()
            cache[key] = fn(text, level)
        return cache[key]

    return wrapped


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, set[str]]]:
    """LLaVA-shaped models in svit.duckdb: name -> (qualified name, its columns)."""
    rows = (
        con.execute(
            "select schema_name, table_name, list(column_name) from duckdb_columns() "
            "where database_name = ? group by all",
            [MODELS_CATALOG],
        ).fetchall()
        if _attached(con)
        else []
    )
    return {
        table: (f"{MODELS_CATALOG}.{sql_ident(schema)}.{sql_ident(table)}", set(columns))
        for schema, table, columns in sorted(rows)
        if LLAVA_COLUMNS <= set(columns)
    }


def _mart_models(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """LLaVA-shaped models in svit.duckdb: name -> qualified name."""
    return {name: qualified for name, (qualified, _) in _marts(con).items()}


def _attached(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("select 1 from duckdb_databases() where database_name = ?", [MODELS_CATALOG]).fetchall())


def _llava_files(warehouse: Warehouse) -> dict[str, Path]:
    """Ingested LLaVA files: model name -> snapshot folder holding llava_records / llava_turns."""
    snapshot = current_snapshot(warehouse.root) or warehouse.root
    return dict.fromkeys(warehouse.llava_models(), snapshot)


def available_models(warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(set(_mart_models(con)) | set(_llava_files(warehouse)))


def resolve_source(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, model: str) -> Source:
    """The Source of `model`; SvitError listing the models when there is none by that name."""
    marts = _mart_models(con)
    if model in marts:
        # Mixes of LLaVA files carry each record's id JSON, image presence and extra keys.
        mixed = {"id_json", "has_image", "extra"} <= _marts(con)[model][1]
        columns = (
            "id_json::varchar as id_text, has_image, image, extra::varchar as extra, "
            if mixed
            else "to_json(id)::varchar as id_text, image is not null as has_image, image, null::varchar as extra, "
        ) + "conversations as turns, record_order as ord"
        parts = [p for p in MODEL_PARTS.get(model, ()) if p in marts] if model in MODEL_PARTS else [model]
        if len(parts) != len(MODEL_PARTS.get(model, parts)):
            parts = [model]
        record_extras = mixed and con.execute(f"select count(extra) > 0 from {marts[model]}").fetchall()[0][0]
        return Source(
            model,
            "mart",
            [f"select {columns} from {marts[p]}" for p in parts],
            f"select {columns} from {marts[model]} order by record_order",
            "select " + " + ".join(f"(select count(*) from {marts[p]})" for p in parts),
            record_extras,
            False,
        )
    files = _llava_files(warehouse)
    if model in files:
        snap = files[model]
        recs = sql_str(snap / "llava_records" / f"source={model}" / "*.parquet")
        turns_dir = snap / "llava_turns" / f"source={model}"
        has_turns = any(turns_dir.glob("*.parquet"))
        turn_files = sql_str(turns_dir / "*.parquet")
        turn_extras = bool(
            has_turns and con.execute(f"select count(extra) > 0 from read_parquet({turn_files})").fetchall()[0][0]
        )
        # Turns without extra keys are {from, value}, the shape the fast JSON rendering needs.
        turn = "{'from': role, 'value': text, 'extra': extra}" if turn_extras else "{'from': role, 'value': text}"
        turns = (
            f"(select record_index, list({turn} order by turn) as turns "
            f"from read_parquet({turn_files}) group by record_index)"
            if has_turns
            else "(select null::bigint as record_index, null as turns where false)"
        )
        select = (
            "select case when r.id_type = 'integer' then r.id_json else to_json(r.id)::varchar end as id_text, "
            "r.has_image, r.image, r.extra, t.turns, r.record_index as ord "
            f"from read_parquet({recs}) r left join {turns} t using (record_index) order by r.record_index"
        )
        record_extras = con.execute(f"select count(extra) > 0 from read_parquet({recs})").fetchall()[0][0]
        return Source(
            model,
            "llava_file",
            [select],
            select,
            f"select count(*) from read_parquet({recs})",
            record_extras,
            turn_extras,
        )
    known = available_models(warehouse, con)
    hint = ", ".join(known) if known else "none: run `svit ingest` and `svit build` first"
    raise SvitError(f"no model named {model!r} in {warehouse.root}; models: {hint}")


# --------------------------------------------------------------------------- writing


def _string_buffer(arr: pa.Array) -> memoryview:
    """The bytes of all strings of a string array, back to back (no copy)."""
    if arr.null_count:
        raise SvitError(NULL_RECORD)
    return memoryview(string_bytes(arr))


def _fix_bytes(data: memoryview | bytes, ensure_ascii: bool) -> memoryview | bytes:
    """Make DuckDB's escaping read as json.dumps writes it (lower-case hex; --ascii escapes)."""
    if ensure_ascii:
        raw = bytes(data)
        if not raw.isascii():
            text = raw.decode("utf-8").encode("ascii", "backslashreplace").replace(b"\x7f", b"\\u007f")
            return _FIX_ASCII.sub(_ascii_escape, text)
        data = raw.replace(b"\x7f", b"\\u007f")
    return _FIX_CONTROL.sub(_ascii_escape, bytes(data)) if _FIX_CONTROL.search(data) else data


def _ascii_escape(m: re.Match) -> bytes:
    token = m.group(1)
    if token == b"\\":
        return b"\\\\"
    kind = token[:1]
    if kind == b"x":
        return b"\\u00" + token[1:]
    if kind == b"U":
        cp = int(token[1:], 16) - 0x10000
        return b"\\u%04x\\u%04x" % (0xD800 | (cp >> 10), 0xDC00 | (cp & 0x3FF))
    return b"\\" + token.lower()


def _batches(con: duckdb.DuckDBPyConnection, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
    try:
        yield from con.sql(sql).to_arrow_reader(rows)
    except duckdb.Error as exc:
        raise SvitError(f"export query failed: {str(exc).splitlines()[0]}") from exc


def _write_records(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    plan: _Plan,
    out: OutputFile,
    layout: Layout,
    on_batch: Callable[[int], None],
    sorted_scan: bool,
) -> int:
    """Write every rendered record; returns how many. Raises _OutOfOrder."""
    relations = [source.sorted_sql] if sorted_scan else source.parts
    batch_rows, queue = BATCH_ROWS, WRITE_QUEUE
    if plan.kernel is not None:
        from svit.export.json_kernel import render_batch  # numba: imported only when exporting

        batch_rows, queue = min(BATCH_ROWS, KERNEL_BATCH_ROWS), KERNEL_WRITE_QUEUE

    def write(text: pa.Array, skip: int, escapes: bool) -> None:
        data = _string_buffer(text)
        if escapes or layout.ensure_ascii:
            data = _fix_bytes(data, layout.ensure_ascii)
        out.write(data[skip:] if skip else data)

    # Output buffers go round between the renderers and the writer instead of a fresh array
    # per batch: fewer page faults.
    buffers: deque[np.ndarray] = deque()

    def render(batch: pa.RecordBatch) -> tuple[np.ndarray, int, int]:
        return render_batch(batch, plan.kernel, buffers.popleft() if buffers else None)

    def write_rendered(rendered: Future, skip: int) -> None:
        buffer, size, null_record = rendered.result()
        if null_record >= 0:
            raise SvitError(NULL_RECORD)
        out.write(memoryview(buffer)[skip:size])
        buffers.append(buffer)

    n, last = 0, None
    # DuckDB reads the next batch only when asked for it: one thread writes (file I/O
    # releases the GIL) while the next batch is rendered. Up to `queue` batches wait.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="svit-export-writer") as writer,
        ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="svit-export-render") as renderers,
    ):
        pending: deque[Future] = deque()
        for relation in relations:
            if plan.kernel is not None:
                query = f"select id_text, has_image, image, turns, ord from ({relation})"
            else:
                # Only text holding `\u00` can hold an escape to fix: DuckDB finds those records
                # while rendering for a fraction of what a search of every batch in Python costs.
                query = (
                    "select text, ord, contains(text, '\\u00') "
                    f"from (select {plan.render} as text, ord from ({relation}))"
                )
            for batch in _batches(con, query, batch_rows):
                if not batch.num_rows:
                    continue
                order = batch.column("ord").to_numpy(zero_copy_only=False)
                if not sorted_scan and ((last is not None and order[0] <= last) or (np.diff(order) <= 0).any()):
                    _drain(pending)
                    raise _OutOfOrder
                last = order[-1]
                skip = plan.first_skip if n == 0 else 0
                if plan.kernel is not None:
                    # Rendered on their own threads (the compiled loop lets go of the GIL),
                    # written in the order they came.
                    rendered = renderers.submit(render, batch)
                    pending.append(writer.submit(write_rendered, rendered, skip))
                else:
                    escapes = bool(pc.any(batch.column(2)).as_py())
                    pending.append(writer.submit(write, batch.column(0), skip, escapes))
                n += batch.num_rows
                if len(pending) > queue:
                    pending.popleft().result()  # re-raises the writer's error
                on_batch(batch.num_rows)
        _drain(pending)
    return n


def _drain(pending: deque[Future]) -> None:
    while pending:
        pending.popleft().result()


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


@dataclass
class _Plan:
    render: str
    head: bytes  # before the first record
    tail: bytes  # after the last record
    empty: bytes  # the whole file when there is no record
    first_skip: int  # bytes of the first record's separator to drop
    kernel: object | None = None  # json_kernel.RecordText when the compiled rendering applies


def _plan(fmt: str, layout: Layout, source: Source) -> _Plan:
    extras = (source.record_extras, source.turn_extras)
    if fmt in ("llava", "jsonl"):
        prefix, suffix = (
            ("," + layout.open(1) if layout.indent is not None else ", ", "") if fmt == "llava" else ("", "\n")
        )
        kernel = None
        # Extra keys (printed by json.dumps) and --ascii are the SQL rendering's alone.
        if USE_KERNEL and not (layout.ensure_ascii or any(extras)):
            from svit.export.json_kernel import RecordText  # numba: imported only when exporting

            kernel = RecordText(layout, prefix, suffix)
        render = record_sql(layout, prefix, *extras, suffix=suffix)
        if fmt == "jsonl":
            return _Plan(render, b"", b"", b"", 0, kernel)
        tail = (layout.close(0) + "]").encode()
        return _Plan(render, b"[" + layout.open(1).encode(), tail, b"[]", len(prefix.encode()), kernel)
    if fmt == "messages":
        return _Plan(messages_sql(), b"", b"", b"", 0)
    raise AssertionError(fmt)


def export(
    warehouse: Warehouse,
    model: str,
    out: Path,
    fmt: str = "llava",
    indent: int | None = None,
    ensure_ascii: bool = False,
    progress: bool = True,
) -> ExportResult:
    """Write `model` to `out` in `fmt`; the file (or folder, for parquet) appears only when complete."""
    if fmt not in FORMATS:
        raise SvitError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if indent is not None and indent < 0:
        raise SvitError("--indent must be 0 or more")
    if not warehouse.root.is_dir():
        raise SvitError(f"no warehouse at {warehouse.root}: run `svit ingest` (or `svit demo`) first")
    check_output(warehouse, out, allowed=("exports",), what="exports")
    out = Path(out).absolute()
    layout = Layout(indent if fmt == "llava" else None, ensure_ascii)  # JSONL: one record per line
    keep_batches_in_heap(any_size=True)  # every batch in fresh pages costs page faults
    con, temp_dir = open_connection(warehouse, layout)
    try:
        source = resolve_source(warehouse, con, model)
        if fmt == "parquet":
            return _export_parquet(con, source, out, progress)
        return _export_json(con, source, out, fmt, layout, progress)
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _export_json(con, source: Source, out: Path, fmt: str, layout: Layout, progress: bool) -> ExportResult:
    if out.is_dir():
        raise SvitError(f"--out {out} is a directory; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = _plan(fmt, layout, source)
    total = con.execute(source.count_sql).fetchall()[0][0]
    remove_leftovers(out.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=partial_prefix(out), suffix=PARTIAL_SUFFIX, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for sorted_scan in (False, True):
            with OutputFile(tmp) as f, _progress(total, progress, source.name) as bar:
                f.write(plan.head)
                try:
                    n = _write_records(con, source, plan, f, layout, bar.update, sorted_scan)
                except _OutOfOrder:
                    continue
                if n == 0:
                    f.restart()
                    f.write(plan.empty)
                else:
                    f.write(plan.tail)
            size = f.size
            break
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(source.name, fmt, out, n, size)


class OutputFile:
    """A file written front to back, bypassing the page cache where the OS allows.

    An export is written once and not read back by this process; going through the page
    cache costs a copy of every byte, and where the cache must first take fresh memory
    (a VM whose free memory went back to the host) kernel time for every page. With
    O_DIRECT the bytes go to the disk from an aligned staging buffer instead (bench/README.md
    has the difference). Where O_DIRECT is not
    available (macOS, tmpfs, SVIT_EXPORT_DIRECT_IO=0) it is a plain unbuffered file.
    """

    STAGING = 8 << 20  # a multiple of any block size O_DIRECT asks for

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._fill = 0
        self._direct = False
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        direct = getattr(os, "O_DIRECT", 0)
        if direct and settings.export_direct_io():
            try:
                self._fd = os.open(path, flags | direct, 0o600)
                self._direct = True
            except OSError:
                pass
        if not self._direct:
            self._fd = os.open(path, flags, 0o600)
        self._staging = mmap.mmap(-1, self.STAGING) if self._direct else None  # page-aligned

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        self.size += len(view)
        if not self._direct:
            _write_all(self._fd, view)
            return
        while len(view):
            n = min(len(view), self.STAGING - self._fill)
            self._staging[self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == self.STAGING:
                self._write_staged()

    def _write_staged(self) -> None:
        view = memoryview(self._staging)[: self._fill]
        while len(view):
            try:
                view = view[os.write(self._fd, view) :]
            except OSError as exc:
                if exc.errno != errno.EINVAL or not self._direct_on():
                    raise
                # Opened with O_DIRECT but refused when writing (some FUSE mounts, or a
                # short write left the offset unaligned): the rest goes through the cache.
                self._buffered()
        self._fill = 0

    def _direct_on(self) -> bool:
        return bool(fcntl.fcntl(self._fd, fcntl.F_GETFL) & os.O_DIRECT)

    def _buffered(self) -> None:
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)

    def restart(self) -> None:
        """Start the file again, empty."""
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self.size = self._fill = 0

    def close(self) -> None:
        try:
            if self._direct and self._fill:
                self._buffered()  # the last piece is not a whole block
                self._write_staged()
        finally:
            os.close(self._fd)
            if self._staging is not None:
                self._staging.close()

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while len(view):
        view = view[os.write(fd, view) :]


# --------------------------------------------------------------------------- parquet


PARQUET_COLUMNS = (
    "case when id_text like '\"%' then json_extract_string(id_text, '$') else id_text end as id, "
    "id_text not like '\"%' as id_is_int, "
    "case when has_image then image end as image, "
    "coalesce(list_transform(turns, lambda t: {'from': t.\"from\", 'value': t.\"value\"}), []) as conversations, "
    "extra, "
    "ord"
)

DATASET_CARD = """\
---
configs:
- config_name: default
  data_files:
  - split: train
    path: "train-*.parquet"
dataset_info:
  features:
  - name: id
    dtype: string
  - name: id_is_int
    dtype: bool
  - name: image
    dtype: string
  - name: conversations
    list:
    - name: from
      dtype: string
    - name: value
      dtype: string
  - name: extra
    dtype: string
  splits:
  - name: train
    num_bytes: {num_bytes}
    num_examples: {num_examples}
  download_size: {download_size}
  dataset_size: {num_bytes}
---

# {model}

Exported by `svit export {model} --format parquet` from svit-warehouse: one row per LLaVA
record, in the model's order.

- `id`: the record id as text; `id_is_int` is true where the source JSON had an integer id
  (LLaVA-1.5's mix has both, which Arrow cannot hold in one column).
- `image`: the image path, null for a text-only record (LLaVA: leave out the `image` key).
- `conversations`: the turns, `from` (`human` / `gpt`) and `value`.
- `extra`: the record's other keys as a JSON object (e.g. `{{"model": ""}}`), or null.
"""


def _export_parquet(con, source: Source, out: Path, progress: bool) -> ExportResult:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SvitError(f"--out {out} exists and is not an empty folder; parquet export writes a folder of shards")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=partial_prefix(out), suffix=PARTIAL_SUFFIX, dir=out.parent))
    try:
        total, avg = con.execute(
            "select count(*), coalesce(avg(strlen(id_text) + coalesce(strlen(image), 0) + coalesce(strlen(extra), 0) "
            '+ coalesce(list_sum(list_transform(turns, lambda t: strlen(t."value") + 8)), 0)), 1) '
            f"from ({source.parts[0] if len(source.parts) == 1 else source.sorted_sql})"
        ).fetchall()[0]
        rows_per_group = max(1_000, int(PARQUET_ROW_GROUP_BYTES // max(avg, 1)))
        query = f"select {PARQUET_COLUMNS} from ({source.sorted_sql})"
        with _progress(total, progress, f"{source.name} (parquet)") as bar:
            try:
                con.execute(
                    f"copy (select * exclude (ord) from ({query})) to {sql_str(tmp / 'shards')} "
                    f"(format parquet, compression zstd, row_group_size {rows_per_group}, "
                    f"file_size_bytes '{PARQUET_SHARD_BYTES}', filename_pattern 'train_{{i}}', preserve_order true)"
                )
            except duckdb.Error as exc:
                raise SvitError(f"parquet export failed: {str(exc).splitlines()[0]}") from exc
            bar.update(total)
        shards = sorted((tmp / "shards").glob("*.parquet"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
        for i, shard in enumerate(shards):
            shard.rename(tmp / f"train-{i:05d}-of-{len(shards):05d}.parquet")
        if (tmp / "shards").exists():
            (tmp / "shards").rmdir()
        if not shards:  # no records: one empty shard that still has the schema
            con.execute(
                f"copy (select * exclude (ord) from ({query}) limit 0) "
                f"to {sql_str(tmp / 'train-00000-of-00001.parquet')} (format parquet)"
            )
        size = sum(p.stat().st_size for p in tmp.glob("*.parquet"))
        (tmp / "README.md").write_text(
            DATASET_CARD.format(model=source.name, num_examples=total, num_bytes=int(avg * total), download_size=size)
        )
        os.chmod(tmp, 0o755)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(source.name, "parquet", out, total, size)
