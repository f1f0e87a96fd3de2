"""`svit images ROOT`: what is at every image path the warehouse's records name, into the table
image_files of svit.duckdb, and a report of the records whose image has a problem.

The paths come from the models named (default: llava_svit_all and every ingested LLaVA file),
relative to ROOT in LLaVA's layout (`coco/train2017/...`, `vg/VG_100K/...`). Every path is
stat'ed; a file read before from the same ROOT whose size and mtime are unchanged keeps its
row (with `--decode` or `--hash`, only if that was done then too), the others are read again
(svit/images/scan.py), in parallel processes when there are many. The new table is made beside
the old one and takes its name in one transaction: a scan killed midway leaves the previous
image_files as it was. Nothing under ROOT is written.

A rerun with nothing changed (the same models, snapshot, svit.duckdb and files) is answered
from the state the last scan left in <warehouse>/report/ (the paths, their rows' stat keys and
the report): it stats every path and opens no database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from svit import __version__
from svit.core import snapshots
from svit.core.errors import SvitError
from svit.core.files import atomic_write_text
from svit.core.image_files import CATEGORIES, image_problems_sql
from svit.core.image_sizes import image_sizes_sql
from svit.core.models_db import IMAGE_FILES, connect, file_images_sql, llava_models_of, read_parts
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse
from svit.images.scan import COLUMNS, scan_chunk, stat_keys

DEFAULT_MART = "llava_svit_all"
CHUNK = 500  # paths per task of the process pool
IN_PROCESS = 2000  # fewer paths to read than this: read them here, a pool would cost more to start
PROBLEMS_FILE = "images_problems.csv"  # under <warehouse>/report/
STATE_FILE = ".images_state.arrow"  # under <warehouse>/report/: what a rerun with nothing changed answers from
TYPES = (
    "varchar, boolean, bigint, bigint, varchar, varchar, integer, integer, varchar, integer, boolean, boolean, "
    "varchar, varchar"
).split(", ")


@dataclass
class ImagesResult:
    root: Path
    models: list[str]
    paths: int = 0
    read: int = 0  # read now (the rest kept from the last scan)
    seconds: float = 0.0
    categories: dict[str, int] = field(default_factory=dict)  # paths per problem
    per_model: dict[str, dict[str, int]] = field(default_factory=dict)  # records per problem
    per_prefix: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    problems_file: Path | None = None

    def summary_lines(self) -> list[str]:
        rate = self.read / self.seconds if self.seconds else 0.0
        ok = self.paths - sum(self.categories.values())
        lines = [
            f"{self.paths:,} image paths of {', '.join(self.models)} under {self.root}: {self.read:,} read now, "
            f"{self.paths - self.read:,} unchanged since the last scan, in {self.seconds:.1f}s ({rate:,.0f} files/s)",
            "  paths: " + "; ".join([f"ok {ok:,}"] + [f"{c} {self.categories.get(c, 0):,}" for c in CATEGORIES]),
        ]
        for model, counts in self.per_model.items():
            total = sum(counts.values())
            lines.append(f"  {model}: {total:,} records whose image has a problem" + _counts(counts))
            for (m, prefix), by in sorted(self.per_prefix.items()):
                if m == model:
                    lines.append(f"    {prefix:<10}" + _counts(by).removeprefix(" "))
        if self.problems_file is not None:
            lines.append(f"  every such record: {self.problems_file}")
        lines.append(f'  table {IMAGE_FILES} in svit.duckdb (`svit sql "select * from {IMAGE_FILES}"`)')
        return lines


def _counts(counts: dict[str, int]) -> str:
    shown = [f"{c} {counts[c]:,}" for c in CATEGORIES if counts.get(c)]
    return f" ({', '.join(shown)})" if shown else ""


def _records_sql(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, models: Sequence[str]) -> tuple[list, str]:
    """The models chosen, and a query of their image records (model, record, id, image)."""
    marts, files = llava_models_of(con), warehouse.llava_models()
    if not models:
        models = ([DEFAULT_MART] if DEFAULT_MART in marts else []) + files
    known = sorted(set(marts) | set(files))
    for model in models:
        if model not in known:
            raise SvitError(f"no model named {model!r} in {warehouse.root}; models: {', '.join(known) or 'none'}")
    if not models:
        raise SvitError(f"no LLaVA models in {warehouse.root}: run `svit ingest` and `svit build` first")
    parts = []
    for model in dict.fromkeys(models):
        if model in marts:
            parts += [
                f"select {sql_str(model)} as model, record_order as record, id::varchar as id, image "
                f"from {sql_ident(table)} where image is not null"
                for table in read_parts(model, marts)
            ]
        else:
            # Every image of the record, in order (LLaVA-NeXT and ShareGPT records name several).
            parts.append(
                f"select {sql_str(model)} as model, m.record_index as record, r.id, m.path as image "
                f"from ({file_images_sql(model)}) m inner join stg_llava__records r using (llava_file, record_index)"
            )
    return list(dict.fromkeys(models)), " union all ".join(parts)


def run_images(
    warehouse: Warehouse,
    root: Path | str,
    models: Sequence[str] = (),
    decode: bool = False,
    with_hash: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> ImagesResult:
    """Scan the image files of `models` under `root` into image_files and report (module docstring)."""
    started = time.perf_counter()
    root = Path(root)
    if not root.is_dir():
        raise SvitError(f"{root}: not a folder; give the folder the image paths are relative to (coco/, vg/, ...)")
    root = root.resolve()
    if not warehouse.duckdb_path.is_file():
        raise SvitError(f"no models in {warehouse.root}: run `svit build` first ({IMAGE_FILES} is kept in svit.duckdb)")
    with snapshots.write_lock(warehouse.root, "images"):
        result = _rerun_from_state(warehouse, root, models, decode, with_hash)
        if result is not None:
            result.seconds = time.perf_counter() - started
            return result
        con = connect(warehouse, read_only=False)
        try:
            chosen, records = _records_sql(warehouse, con, models)
            con.execute(f"create or replace temp table img_records as {records}")
            paths = [p for (p,) in con.execute("select distinct image from img_records order by 1").fetchall()]
            snapshot = _snapshot_name(warehouse)
            previous = _previous(con, root)
            # With no earlier scan of this root every file is read: nothing to compare.
            keys = stat_keys(str(root), paths) if previous else [None] * len(paths)
            todo = [
                path
                for path, key in zip(paths, keys, strict=True)
                if path not in previous or not _unchanged(previous[path], key, decode, with_hash)
            ]
            # The other rows of this root stay: those of paths this scan did not read again, and
            # those of other models' images scanned before (`--model` scans add to the table).
            reread = set(todo)
            keep = [path for path in previous if path not in reread]
            # Nothing read, problems judged against the same metadata: the table stands.
            if todo or not previous or any(p[-1] != snapshot for p in previous.values()):
                rows = _scan(str(root), todo, decode, with_hash, progress, workers)
                _write(con, warehouse, root, keep, rows, snapshot)
            result = ImagesResult(root, chosen, len(paths), len(todo))
            _report(warehouse, con, result)
            rows = con.execute(
                f"select {', '.join(_PREVIOUS)} from {IMAGE_FILES} where root = ? "
                "and path in (select image from img_records) order by path",
                [str(root)],
            ).fetchall()
        finally:
            con.close()
        _save_state(warehouse, root, models, result, rows)
    result.seconds = time.perf_counter() - started
    return result


def _snapshot_name(warehouse: Warehouse) -> str | None:
    snapshot = snapshots.current_snapshot(warehouse.root)
    return snapshot.name if snapshot is not None else None


# What a rerun needs of the last scan's rows to decide whether a file must be read again.
_PREVIOUS = ("path", "exists", "bytes", "mtime_ns", "error", "decoded", "sha256 is not null", "snapshot")


def _previous(con: duckdb.DuckDBPyConnection, root: Path) -> dict[str, tuple]:
    """The rows of the last scan of the same root (the columns of _PREVIOUS), by path."""
    present = con.execute("select 1 from duckdb_tables() where table_name = ?", [IMAGE_FILES]).fetchall()
    if not present:
        return {}
    columns = {r[0] for r in con.execute(f"select column_name from (describe {IMAGE_FILES})").fetchall()}
    if not {*COLUMNS, "snapshot"} <= columns:  # written by an older svit: read everything again
        return {}
    rows = con.execute(f"select {', '.join(_PREVIOUS)} from {IMAGE_FILES} where root = ?", [str(root)]).fetchall()
    return {row[0]: row for row in rows}


def _unchanged(before: tuple, key: tuple[int, int] | None, decode: bool, with_hash: bool) -> bool:
    _, exists, size, mtime_ns, error, decoded, hashed, _ = before
    if (decode and not decoded) or (with_hash and exists and not hashed):
        return False
    if key is None:
        return not exists and error is None  # missing then, missing now
    return exists and (size, mtime_ns) == key


def _state_key(warehouse: Warehouse, root: Path, models: Sequence[str]) -> str:
    """What the last scan's answer depends on besides the files: svit, ROOT, the models asked
    for, the snapshot (metadata sizes, ingested files) and svit.duckdb (the models' records and
    image_files itself). DuckDB rewrites its header on every checkpoint, so any write to the
    file since changes its first blocks, as well as its size or modification time."""
    db = warehouse.duckdb_path
    wal = db.with_name(db.name + ".wal")
    st = db.stat()
    with open(db, "rb") as f:
        header = hashlib.sha256(f.read(3 * 4096)).hexdigest()
    identity = [st.st_size, st.st_mtime_ns, st.st_ino, header, wal.exists()]
    return json.dumps([__version__, str(root), list(models), _snapshot_name(warehouse), identity])


def _save_state(warehouse: Warehouse, root: Path, models: Sequence[str], result: ImagesResult, rows: list) -> None:
    """Keep the paths scanned, their rows' stat keys (the columns of _PREVIOUS) and the report,
    for a rerun with nothing changed (_rerun_from_state)."""
    summary = {
        "key": _state_key(warehouse, root, models),
        "models": result.models,
        "categories": result.categories,
        "per_model": result.per_model,
        "per_prefix": [[m, p, counts] for (m, p), counts in result.per_prefix.items()],
    }
    names = [c.replace(" ", "_") for c in _PREVIOUS]
    columns = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    table = pa.table(columns).replace_schema_metadata({"svit": json.dumps(summary)})
    path = warehouse.root / "report" / STATE_FILE
    temporary = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(temporary, path)


def _rerun_from_state(
    warehouse: Warehouse, root: Path, models: Sequence[str], decode: bool, with_hash: bool
) -> ImagesResult | None:
    """The last scan's result when nothing it depends on changed: the same key (_state_key) and
    every path's file unchanged by the rule a rerun reads files by (_unchanged); else None."""
    path = warehouse.root / "report" / STATE_FILE
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        summary = json.loads(table.schema.metadata[b"svit"])
    except (OSError, pa.ArrowInvalid, KeyError, TypeError, ValueError):
        return None  # no state yet, or not readable: the full rerun decides
    problems_file = warehouse.root / "report" / PROBLEMS_FILE
    if summary["key"] != _state_key(warehouse, root, models) or not problems_file.is_file():
        return None
    paths, exists, size, mtime_ns, error, decoded, hashed, _ = (c.to_pylist() for c in table.columns)
    # _unchanged for every row at once: a file that was there has the same size and mtime, one
    # that was missing (without an error) is still missing, and what --decode / --hash ask was done.
    if (decode and not all(decoded)) or (with_hash and not all(h for e, h in zip(exists, hashed, strict=True) if e)):
        return None
    if any(not e and err is not None for e, err in zip(exists, error, strict=True)):
        return None
    expected = [(b, m) if e else None for e, b, m in zip(exists, size, mtime_ns, strict=True)]
    if stat_keys(str(root), paths) != expected:
        return None
    result = ImagesResult(root, summary["models"], len(paths), 0, problems_file=problems_file)
    result.categories, result.per_model = summary["categories"], summary["per_model"]
    result.per_prefix = {(m, p): counts for m, p, counts in summary["per_prefix"]}
    return result


def _scan(root: str, paths: list[str], decode: bool, with_hash: bool, progress: bool, workers: int | None) -> list:
    from tqdm import tqdm

    rows: list[tuple] = []
    chunks = [(root, paths[i : i + CHUNK], decode, with_hash) for i in range(0, len(paths), CHUNK)]
    bar = tqdm(
        total=len(paths), desc="images", unit=" files", unit_scale=True, leave=False, disable=None if progress else True
    )
    try:
        if len(paths) < IN_PROCESS:
            results = map(scan_chunk, chunks)
            for chunk in results:
                rows += chunk
                bar.update(len(chunk))
        else:
            with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
                for chunk in pool.map(scan_chunk, chunks):
                    rows += chunk
                    bar.update(len(chunk))
    finally:
        bar.close()
    return rows


def _write(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse,
    root: Path,
    keep: list[str],
    rows: list[tuple],
    snapshot: str | None,
) -> None:
    """Replace image_files by the rows of `keep` (paths of the last scan that stand) and `rows`
    (read now), each with its problem (svit/core/image_files.py) against the sizes the metadata
    gives now, in one transaction (a reader sees the old or the new table)."""
    arrays = {name: pa.array([r[i] for r in rows], type=_arrow(TYPES[i])) for i, name in enumerate(COLUMNS)}
    con.register("img_read_rows", pa.table(arrays))
    con.register("img_kept_paths", pa.table({"path": pa.array(keep, type=pa.string())}))
    columns = ", ".join(sql_ident(c) for c in COLUMNS)
    kept = (
        f"select {columns} from {IMAGE_FILES} where root = {sql_str(str(root))} "
        "and path in (select path from img_kept_paths)"
        if keep
        else f"select {columns} from img_read_rows where false"
    )
    sizes = image_sizes_sql(snapshots.current_snapshot(warehouse.root) or warehouse.root)
    scanned_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace temp table img_new_rows as {kept} union all select {columns} from img_read_rows"
        )
        con.execute(
            f"create or replace table {IMAGE_FILES}__new as select f.*, p.category as problem, "
            "p.detail as problem_detail, ? as root, ? as scanned_at, ? as snapshot "
            f"from img_new_rows f left join ({image_problems_sql('img_new_rows', sizes)}) p on p.image = f.path "
            "order by f.path",
            [str(root), scanned_at, snapshot],
        )
        con.execute(f"drop table if exists {IMAGE_FILES}")
        con.execute(f"alter table {IMAGE_FILES}__new rename to {IMAGE_FILES}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("img_read_rows")
        con.unregister("img_kept_paths")


def _arrow(sql_type: str) -> pa.DataType:
    return {"varchar": pa.string(), "boolean": pa.bool_(), "bigint": pa.int64(), "integer": pa.int32()}[sql_type]


def _report(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, result: ImagesResult) -> None:
    """Counts per category, model and image prefix; every record with a problem into a CSV."""
    con.execute(
        "create or replace temp table img_problems as select path as image, problem as category, "
        f"problem_detail as detail from {IMAGE_FILES} where problem is not null"
    )
    result.categories = dict(
        con.execute(
            "select category, count(*) from img_problems where image in (select image from img_records) group by all"
        ).fetchall()
    )
    found = (
        "select r.model, r.record, r.id, r.image, coalesce(nullif(split_part(r.image, '/', 1), ''), 'none') "
        "as prefix, p.category, p.detail from img_records r inner join img_problems p using (image)"
    )
    for model, prefix, category, n in con.execute(
        f"select model, prefix, category, count(*) from ({found}) group by all order by all"
    ).fetchall():
        result.per_model.setdefault(model, {}).setdefault(category, 0)
        result.per_model[model][category] += n
        result.per_prefix.setdefault((model, prefix), {})[category] = n
    for model in result.models:
        result.per_model.setdefault(model, {})
    folder = warehouse.root / "report"
    folder.mkdir(exist_ok=True)
    rows = con.execute(f"select model, record, id, image, category, detail from ({found}) order by all").fetchall()
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(("model", "record", "id", "image", "category", "detail"))
    writer.writerows(rows)
    result.problems_file = folder / PROBLEMS_FILE
    atomic_write_text(result.problems_file, text.getvalue())
