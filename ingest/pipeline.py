"""`svit ingest`: every input of a download into one new warehouse snapshot, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import duckdb
import pyarrow
from tqdm import tqdm

import svit
from ingest import coco, duck, llava, llava_shapes, svit_original, visual_genome
from ingest.duck import connect
from ingest.empty_input import is_empty_json
from ingest.json_punctuation import RawCounter
from ingest.sources import (
    COCO_CAPTIONS,
    LLAVA,
    SVIT_ALL,
    SVIT_TASK,
    VG_IMAGE_DATA,
    VG_OBJECTS,
    VG_REGIONS,
    InputFile,
    discover,
    feeds_for,
    model_name,
    usable,
)
from svit.core import settings, snapshots
from svit.core.errors import InputError, SvitError
from svit.core.malloc import keep_batches_in_heap
from svit.core.sql import sql_str
from svit.core.tables import TABLES
from svit.core.warehouse import Warehouse


@dataclass
class FileReport:
    """One source in the manifest: what it is, where it came from, what it gave."""

    name: str
    path: str  # as given (a zip member as zip:member)
    kind: str
    bytes: int
    sha256: str
    status: str = "ingested"  # read in this run; "unchanged" (given, same bytes) or "kept" (not given) are reused
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    seconds: float = 0.0
    cache_key: str = ""
    reader: str = ""  # SVIT files: the scan kept (typed, json or tolerant); LLaVA files: json array or json lines
    notes: dict[str, int] = field(default_factory=dict)  # records kept with a remark (LLaVA: implicit placeholders)
    outputs: list[str] = field(default_factory=list)
    abs_path: str = ""  # the file (the zip for a member), resolved, to find it again
    member: str | None = None
    task: str | None = None
    ingested_at: str = ""  # when this source was last read
    snapshot: str = ""  # the run that last read it
    image_ids_checked: bool | None = None  # SVIT files: read against image_data.json
    shape: str = ""  # LLaVA files: the record shape `--format` named ("" = told by the file)

    @classmethod
    def from_manifest(cls, row: dict) -> FileReport:
        known = {f.name for f in fields(cls)}
        report = cls(**{k: v for k, v in row.items() if k in known})
        if not report.abs_path:  # written before sources were recorded
            report.abs_path = (
                report.path.rsplit(":", 1)[0]
                if report.path.endswith(".json") and ".zip:" in report.path
                else report.path
            )
        return report

    def input_file(self) -> InputFile:
        return InputFile(self.kind, Path(self.abs_path), self.member, self.task, self.name, self.shape)


@dataclass
class IngestReport:
    run_id: str
    snapshot: Path | None
    files: list[FileReport]
    up_to_date: bool = False
    warnings: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(f.records_rejected for f in self.files)


def tool_versions() -> dict[str, str]:
    return {
        "svit": svit.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "python": platform.python_version(),
    }


def _outputs(item: InputFile) -> list[str]:
    """The snapshot folders an input's rows live in, so an unchanged input can be reused."""
    if item.kind == SVIT_TASK:
        outs = [f"turns/task={item.task}", f"conversations/task={item.task}"]
        return outs + (["boxes/task=referring_qa"] if item.task == "referring_qa" else [])
    if item.kind == SVIT_ALL:
        return ["turns", "conversations", "boxes"]
    if item.kind == LLAVA:
        source = model_name(item.name)
        return [f"llava_records/source={source}", f"llava_turns/source={source}", f"llava_media/source={source}"]
    if item.kind == VG_IMAGE_DATA:
        return ["images"]
    if item.kind == VG_OBJECTS:
        return ["vg_objects"]
    if item.kind == VG_REGIONS:
        return ["vg_regions"]
    split = item.path.stem.removeprefix("captions_")
    return [f"coco_captions/split={split}"]


def run_ingest(
    source_dir: Path,
    llava_files: tuple[Path, ...],
    warehouse: Warehouse,
    progress: bool = True,
    check_image_ids: bool = True,
    verbose: bool = False,
    llava_format: str = "",
) -> IngestReport:
    """Add or update the sources found in a BAAI/SVIT download (and extra LLaVA files) in a new
    snapshot of the warehouse; every source ingested before and not given now is kept as it was.

    `llava_format` names the record shape of the `llava_files` (ingest/llava_shapes.py: SHAPES);
    empty, each file's first records tell it.

    `check_image_ids=False` reads SVIT files without image_data.json (recorded in the manifest).
    With `progress`, bars on standard error (on a terminal) and one line per file read on
    standard output; `verbose` adds the readers' own lines (each scan's and step's time).
    """
    if llava_format and llava_format not in llava_shapes.SHAPES:
        raise InputError(f"unknown LLaVA file format {llava_format!r}; choose one of {', '.join(llava_shapes.SHAPES)}")
    inputs = discover(Path(source_dir), tuple(Path(p) for p in llava_files), llava_format)
    if not inputs:
        raise SvitError(
            f"{source_dir}: no SVIT, LLaVA, Visual Genome or COCO files found "
            "(expected data/<task>.json or .zip, format/llava-v1.5/*.json, raw/annotations/...)"
        )
    root = warehouse.root
    keep_batches_in_heap()
    with snapshots.write_lock(root, "ingest", create=True):
        return _write_snapshot(root, inputs, Path(source_dir), frozenset(), check_image_ids, progress, verbose)


def drop_sources(warehouse: Warehouse, names: tuple[str, ...]) -> IngestReport:
    """`svit drop`: a new snapshot without the named sources (by name, or a LLaVA file's model name)."""
    root = warehouse.root
    with snapshots.write_lock(root, "drop"):
        previous = snapshots.previous_manifest(root)
        held = [FileReport.from_manifest(f) for f in previous["files"]] if previous else []
        by_name = {f.name: f.name for f in held} | {model_name(f.name): f.name for f in held if f.kind == LLAVA}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            listed = ", ".join(f.name for f in held) or "none"
            raise SvitError(
                f"no source named {', '.join(unknown)} in {root} (its sources: {listed}); see `svit sources`"
            )
        return _write_snapshot(root, [], None, frozenset(by_name[n] for n in names), True, progress=False)


def _file_reports(
    inputs: list[InputFile],
    hashes: dict[InputFile, str],
    versions: dict[str, str],
    sizes: dict[InputFile, int],
) -> dict[InputFile, FileReport]:
    """`sizes`: the recorded size of the kept sources, whose files may be gone."""
    image_data = next((i for i in inputs if i.kind == VG_IMAGE_DATA), None)
    reports = {}
    for item in inputs:
        # SVIT rows are checked against image_data.json, so they depend on it too.
        depends = hashes[image_data] if image_data and item.kind in (SVIT_TASK, SVIT_ALL) else ""
        key = f"{hashes[item]}:{depends}:{versions['svit']}:{versions['duckdb']}"
        if item.shape:  # the same bytes read as another shape are another source
            key += f":{item.shape}"
        reports[item] = FileReport(
            item.name,
            item.display,
            item.kind,
            sizes[item] if item in sizes else item.size,
            hashes[item],
            cache_key=key,
            outputs=_outputs(item),
            abs_path=str(item.path.resolve()),
            member=item.member,
            task=item.task,
            shape=item.shape,
        )
    return reports


def _check_nothing_vanished(source_dir: Path | None, given: list[InputFile], before: dict[str, FileReport]) -> None:
    """A source read from this download before must still be there: rereading a download never drops one."""
    if source_dir is None:
        return
    base = source_dir.resolve()
    names = {i.name for i in given}
    for name, old in before.items():
        path = Path(old.abs_path)
        if name in names or not path.is_relative_to(base):
            continue
        if not usable(path, name):  # usable() names what is there instead, if anything
            raise InputError(
                f"{old.path}: source {name} was ingested from here and is now missing; restore it, "
                f"or remove it on purpose with `svit drop {name}`"
            )


def _damaged_sources(damaged: list[str], before: dict[str, FileReport]) -> set[str]:
    """Sources whose table files in the current snapshot no longer match its manifest."""
    if any(d.startswith("rejects/") for d in damaged):
        return set(before)  # every source's rejects are in that file
    return {
        name
        for name, old in before.items()
        if any(d == out or d.startswith(out + "/") for d in damaged for out in old.outputs)
    }


def _write_snapshot(
    root: Path,
    given: list[InputFile],
    source_dir: Path | None,
    drop: frozenset[str],
    check_image_ids: bool,
    progress: bool,
    verbose: bool = False,
) -> IngestReport:
    """The one way a snapshot is made: the given sources read (unless unchanged), the others kept."""
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    versions = tool_versions()
    previous = snapshots.previous_manifest(root)
    previous_dir = snapshots.current_snapshot(root)
    before = {f["name"]: FileReport.from_manifest(f) for f in previous["files"]} if previous else {}
    damaged_paths = snapshots.damaged_files(previous_dir, previous) if previous and previous_dir else []
    damaged = _damaged_sources(damaged_paths, before)
    _check_nothing_vanished(source_dir, given, before)
    given_names = {i.name for i in given}
    kept = [before[name].input_file() for name in before if name not in given_names and name not in drop]
    inputs = given + kept
    _check_model_names(inputs)
    _check_no_overlap(inputs)
    image_data = next((i for i in inputs if i.kind == VG_IMAGE_DATA), None)
    if image_data is None and check_image_ids and any(i.kind in (SVIT_TASK, SVIT_ALL) for i in given):
        raise InputError(
            "no raw/annotations/vg/image_data.json in the download or the warehouse: SVIT's image ids cannot be "
            "checked without it; add it, or pass --no-image-id-check to ingest without the check"
        )

    # Hashes decide what a rerun may skip; on a first run nothing can be skipped, so they
    # are computed in the background while the files are read.
    hasher = ThreadPoolExecutor(max_workers=1)
    # The typed reads of SVIT and LLaVA files need the file's punctuation: counted on the same read.
    counters = {i: RawCounter() for i in inputs if i.kind in (SVIT_TASK, SVIT_ALL, LLAVA) and i.member is None}
    kept_hashes = {i: before[i.name].sha256 for i in kept}
    pending = {item: hasher.submit(_hash, item, counters.get(item)) for item in given}

    def hashes() -> dict[InputFile, str]:
        return kept_hashes | {i: f.result() for i, f in pending.items()}

    unchanged: set[InputFile] = set()
    if previous:
        reports = _file_reports(inputs, hashes(), versions, {i: before[i.name].bytes for i in kept})
        for item in inputs:
            old = before.get(item.name)
            if old is None or item.name in damaged:
                continue
            # A kept source stays as it was read, whatever svit reads it with now: only its bytes
            # and a new image_data.json it depends on count (one dropped leaves it as it was).
            old_hash, old_depends = (old.cache_key.split(":") + ["", ""])[:2]
            new_hash, new_depends = (reports[item].cache_key.split(":") + ["", ""])[:2]
            same = (
                old_hash == new_hash and (image_data is None or old_depends == new_depends)
                if item in kept_hashes
                else old.cache_key == reports[item].cache_key
            )
            if same:
                unchanged.add(item)
        for item in kept:
            if item not in unchanged:  # damaged, or image_data.json changed under it: read it again
                _check_same_bytes(item, before[item.name], counters.get(item))
        # Damage in a table no source owns (sources, manifest, an empty table) is mended by
        # writing a new snapshot: those are written afresh every time.
        if unchanged == set(inputs) and not drop and not damaged_paths and set(before) == {i.name for i in inputs}:
            hasher.shutdown()
            return IngestReport(previous["run_id"], previous_dir, list(before.values()), up_to_date=True)
    else:
        reports = {
            item: FileReport(
                item.name,
                item.display,
                item.kind,
                item.size,
                "",
                outputs=_outputs(item),
                abs_path=str(item.path.resolve()),
                member=item.member,
                task=item.task,
                shape=item.shape,
            )
            for item in inputs
        }
    todo = [i for i in inputs if i not in unchanged]
    for item in todo:
        old = before.get(item.name)
        if old is not None and old.records_read and is_empty_json(item):
            raise InputError(
                f"{item.display}: empty, but source {item.name} held {old.records_read:,} records; restore the file, "
                f"or remove the source on purpose with `svit drop {item.name}`"
            )

    staging = snapshots.new_staging(root, run_id)
    try:
        con = connect(staging / ".duckdb_tmp")
        # Not a temp table: the readers that run on cursors of `con` add to it too.
        con.execute(f"create table rejects ({TABLES['rejects'][0]})")
        if previous_dir is not None and (previous_dir / "rejects").is_dir():
            # Rejects of reused sources carry over; the files read now add their own.
            carried = [i.name for i in unchanged]
            if carried:
                con.execute(
                    "insert into rejects select * "
                    f"from read_parquet({sql_str(previous_dir / 'rejects' / '*.parquet')}) "
                    f"where source in (select unnest(?::varchar[]))",
                    [carried],
                )
        with feeds_for(inputs, staging) as feeds:
            for item in unchanged:
                for relative in reports[item].outputs:
                    snapshots.reuse(previous_dir, staging, relative)
                old = before[item.name]
                reports[item].status = "unchanged" if item.name in given_names else "kept"
                for key in (
                    "records_read",
                    "records_written",
                    "records_rejected",
                    "seconds",
                    "reader",
                    "notes",
                    "ingested_at",
                    "snapshot",
                    "cache_key",
                    "image_ids_checked",
                ):
                    setattr(reports[item], key, getattr(old, key))
                if item.name not in given_names:  # kept as it was, including the path it came from
                    reports[item].path = old.path
            try:
                _ingest_changed(con, todo, feeds, staging, image_data, reports, _Lines(progress, verbose), counters)
            except duckdb.OutOfMemoryException as exc:
                raise _out_of_memory("the input files") from exc
        warnings = []
        for item in todo:
            reports[item].ingested_at, reports[item].snapshot = now, run_id
            if item.kind in (SVIT_TASK, SVIT_ALL):
                reports[item].image_ids_checked = image_data is not None
            if reports[item].records_read == 0:
                warnings.append(f"{item.display}: no records (an empty file or [])")
        _write_rejects(con, staging)
        if not previous:
            for item, fresh in _file_reports(inputs, hashes(), versions, {}).items():
                reports[item].sha256, reports[item].cache_key = fresh.sha256, fresh.cache_key
        hasher.shutdown()
        files = [reports[i] for i in inputs]
        _write_sources(con, staging, files)
        _write_manifest_table(con, staging, run_id, versions, files)
        _write_empty_tables(con, staging)
        _write_manifest(staging, run_id, versions, files, all(f.image_ids_checked is not False for f in files))
        con.close()
        shutil.rmtree(staging / ".duckdb_tmp", ignore_errors=True)
        final = snapshots.publish(root, staging)
    except BaseException:
        hasher.shutdown(cancel_futures=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return IngestReport(run_id, final, files, warnings=warnings, dropped=sorted(drop))


def _check_no_overlap(inputs: list[InputFile]) -> None:
    """Two sources may not write the same table folders: data/svit.json holds the four task
    files' blocks, so one of them must go before the other comes in. The given sources come
    first in `inputs`: the one to drop is the one the warehouse kept."""
    for i, item in enumerate(inputs):
        for other in inputs[:i]:
            if any(
                a == b or a.startswith(b + "/") or b.startswith(a + "/")
                for a in _outputs(item)
                for b in _outputs(other)
            ):
                raise InputError(
                    f"{item.name} and {other.name} hold the same SVIT blocks; remove one on purpose first "
                    f"(`svit drop {item.name}`), then ingest again"
                )


def _check_model_names(inputs: list[InputFile]) -> None:
    names: dict[str, str] = {}
    for item in inputs:
        if item.kind != LLAVA:
            continue
        other = names.setdefault(model_name(item.name), item.name)
        if other != item.name:
            raise InputError(
                f"{item.name} and {other} map to the same model name {model_name(item.name)}; "
                f"rename one, or `svit drop {other}` first"
            )


def _check_same_bytes(item: InputFile, old: FileReport, counter: RawCounter | None) -> None:
    """A kept source must be read again (its tables are damaged, or image_data.json changed): only
    from the very bytes it was read from before. The same read counts the punctuation the
    typed read needs (`counter`)."""
    reason = f"source {item.name} must be read again (its tables are damaged or a file it depends on changed)"
    if not usable(item.path, item.name):
        raise InputError(
            f"{old.path}: {reason}, but the file is gone; give it again with `svit ingest`, or `svit drop {item.name}`"
        )
    if _hash(item, counter) != old.sha256:
        raise InputError(
            f"{old.path}: {reason}, but the file changed since; "
            f"give it again with `svit ingest`, or `svit drop {item.name}`"
        )


def _hash(item: InputFile, counter: RawCounter | None) -> str:
    try:
        return item.sha256(counter.feed if counter else None)
    finally:
        if counter is not None:
            counter.done.set()


def _ingest_changed(con, todo, feeds, staging, image_data, reports, lines: _Lines, counters) -> None:
    """Read the inputs that changed (all of them on a first run) into the staging snapshot."""
    progress = lines.progress

    def timed(item_list, work):
        started = time.perf_counter()
        with lines.details():
            result = work()
        elapsed = time.perf_counter() - started
        for item in item_list:
            reports[item].seconds = round(elapsed, 3)
        return result, elapsed

    # image_data first: SVIT rows are checked against it. Reused or not, load the known ids.
    check_images = image_data is not None
    if image_data is not None:
        if image_data in todo:
            counts, elapsed = timed(
                [image_data], lambda: visual_genome.ingest_image_data(con, image_data, feeds, staging, progress)
            )
            _set_counts(reports[image_data], counts)
            lines.file(con, image_data, counts, elapsed)
        else:
            con.execute(
                "create or replace table images_known as select image_id "
                f"from read_parquet({sql_str(staging / 'images' / '*.parquet')})"
            )
    svit_files = [i for i in todo if i.kind in (SVIT_TASK, SVIT_ALL)]
    if svit_files:
        counts, _ = timed(
            svit_files,
            lambda: svit_original.ingest_svit_files(con, svit_files, feeds, staging, check_images, progress, counters),
        )
        for item in svit_files:  # in the order of discovery, not of the scans
            c = counts[item]
            # For SVIT files: records read are image items, records written are blocks.
            _set_counts(reports[item], (c.records_read, c.blocks_written, c.rejected))
            reports[item].reader = c.reader
            lines.svit_file(con, item, c)
    _ingest_two_at_a_time(con, todo, feeds, staging, reports, lines, counters)


def _ingest_two_at_a_time(con, todo, feeds, staging, reports, lines: _Lines, counters) -> None:
    """The LLaVA files and Visual Genome's and COCO's annotations, two at a time: DuckDB parses
    a JSON array on one thread, so one file at a time leaves a core idle (bench/README.md).
    Each runs on its own cursor, whose temp tables are its own."""
    readers = {
        LLAVA: llava.ingest_llava_file,
        VG_OBJECTS: visual_genome.ingest_objects,
        VG_REGIONS: visual_genome.ingest_regions,
        COCO_CAPTIONS: coco.ingest_captions,
    }
    files = [i for i in todo if i.kind in readers]

    def read(item: InputFile) -> tuple[tuple, float]:
        started = time.perf_counter()
        cursor = con.cursor()
        try:
            extra = {"counter": counters.get(item)} if item.kind == LLAVA else {}
            counts = readers[item.kind](cursor, item, feeds, staging, lines.progress, **extra)
        except duckdb.OutOfMemoryException as exc:
            raise _out_of_memory(str(item.path)) from exc
        finally:
            cursor.close()
        return counts, time.perf_counter() - started

    # The largest first, so the two workers finish close together.
    ordered = sorted(files, key=lambda i: -i.size)
    with lines.details(), ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(ordered, pool.map(read, ordered), strict=True))
    for item in files:  # the lines in the order the files were given
        counts, elapsed = done[item]
        reports[item].seconds = round(elapsed, 3)
        _set_counts(reports[item], counts)
        lines.file(con, item, counts, elapsed)


def _out_of_memory(what: str) -> SvitError:
    """The one line for a read that DuckDB's memory limit stopped (nothing was written)."""
    return SvitError(
        f"reading {what} took more memory than DuckDB may use in svit ingest "
        f"(SVIT_INGEST_MEMORY_LIMIT={settings.ingest_memory_limit()}); nothing was written: run it again with "
        "a higher limit, e.g. SVIT_INGEST_MEMORY_LIMIT=4GB"
    )


def _set_counts(report: FileReport, counts: tuple) -> None:
    """A reader's counts: read, written, rejected; the LLaVA reader adds its notes and the container it read."""
    report.records_read, report.records_written, report.records_rejected = counts[:3]
    if len(counts) > 3:
        report.notes, report.reader = counts[3], counts[4]


class _Lines:
    """What `svit ingest` says while it reads (with `progress`): one line per file read, on
    standard output, through tqdm.write so that the bars on standard error stay whole.

    The readers' own lines (ingest/duck.py: detail) are shown only with `verbose`.
    """

    EXAMPLES = 3  # rejected records shown per file; the rejects table holds them all

    def __init__(self, progress: bool, verbose: bool) -> None:
        self.progress = progress
        self.verbose = verbose

    def details(self):
        """The block in which a reader runs: its detail lines shown with `verbose` (or without `progress`,
        when the readers print none)."""
        return duck.details_shown(not self.progress or self.verbose)

    def say(self, line: str) -> None:
        if self.progress:
            tqdm.write(f"  {line}")

    def svit_file(self, con, item: InputFile, c: svit_original.SvitCounts) -> None:
        self.say(
            f"{item.name}: {c.records_read:,} records, {c.blocks_written:,} blocks, {c.turns_written:,} turns, "
            f"{c.boxes_written:,} boxes, {c.rejected:,} rejected ({_rate(c.records_read, c.seconds)})"
            + (f" [{c.reader} read]" if self.verbose and c.reader else "")
        )
        self._rejects(con, item, c.rejected)

    def file(self, con, item: InputFile, counts: tuple, seconds: float) -> None:
        read, written, rejected = counts[:3]
        # Rows written, only when they are not one per record kept.
        rows = f", {written:,} rows" if written != read - rejected else ""
        notes = "".join(f", {n:,} {note}" for note, n in (counts[3] if len(counts) > 3 else {}).items())
        self.say(f"{item.name}: {read:,} records{rows}, {rejected:,} rejected{notes} ({_rate(read, seconds)})")
        self._rejects(con, item, rejected)

    def _rejects(self, con, item: InputFile, rejected: int) -> None:
        """The first rejected records of a file: record, block and reason."""
        if not (self.progress and rejected):
            return
        rows = con.execute(
            "select record_index, block, reason from rejects where source = ? "
            "order by record_index, block nulls first limit ?",
            [item.name, self.EXAMPLES],
        ).fetchall()
        for record, block, reason in rows:
            where = f"record {record}" + (f", block {block}" if block is not None else "")
            reason = " ".join((reason or "").split())
            self.say(f"  rejected {where}: {reason[:150] + '...' if len(reason) > 150 else reason}")
        if rejected > len(rows):
            self.say(f"  and {rejected - len(rows):,} more (all of them are in the rejects table)")


def _rate(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f} records/s" if seconds > 0 else "-"


def _write_rejects(con, staging: Path) -> None:
    """Every rejected record, with its file, record index, reason and JSON."""
    (staging / "rejects").mkdir()
    con.execute(
        f"""copy (select * from rejects order by source, record_index, block nulls first)
        to {sql_str(staging / "rejects" / "rejects_0.parquet")} (format parquet, compression zstd)"""
    )


def _write_sources(con, staging: Path, files: list[FileReport]) -> None:
    """The sources table: one row per source the warehouse holds."""
    if not files:
        return  # every source dropped: written as an empty table like any other
    (staging / "sources").mkdir()
    con.execute(f"create temp table sources ({TABLES['sources'][0]})")
    con.executemany(
        "insert into sources values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (f.name, f.kind, f.path, f.sha256, f.bytes, f.records_read, f.records_rejected, f.ingested_at, f.snapshot)
            for f in files
        ],
    )
    con.execute(
        f"copy sources to {sql_str(staging / 'sources' / 'sources_0.parquet')} (format parquet, compression zstd)"
    )


def _write_manifest_table(con, staging: Path, run_id: str, versions: dict[str, str], files: list[FileReport]) -> None:
    """The manifest table: one row per source, with what this run did with it."""
    if not files:
        return
    (staging / "manifest").mkdir()
    con.execute(f"create temp table manifest ({TABLES['manifest'][0]})")
    con.executemany(
        "insert into manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                f.name,
                f.path,
                f.kind,
                f.bytes,
                f.sha256,
                f.status,
                f.records_read,
                f.records_written,
                f.records_rejected,
                f.seconds,
                json.dumps(versions),
                f.reader or None,
                json.dumps(f.notes) if f.notes else None,
            )
            for f in files
        ],
    )
    con.execute(
        f"copy manifest to {sql_str(staging / 'manifest' / 'manifest_0.parquet')} (format parquet, compression zstd)"
    )


def _write_manifest(
    staging: Path, run_id: str, versions: dict[str, str], files: list[FileReport], image_id_check: bool
) -> None:
    """manifest.json: the sources, and every table file with its size to find damage later;
    written last, so the inventory covers every table file."""
    manifest = {
        "run_id": run_id,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "tool_versions": versions,
        "image_id_check": image_id_check,
        "files": [asdict(f) for f in files],
        "inventory": snapshots.inventory(staging),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _write_empty_tables(con, staging: Path) -> None:
    """A table no input fed still exists, empty, with its columns."""
    for name, (columns, partition) in TABLES.items():
        folder = staging / name
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            continue
        folder.mkdir(exist_ok=True)
        # With no partition folders, the partition column must be in the file itself.
        con.execute(
            f"create or replace temp table empty_table ({columns}{f', {partition} varchar' if partition else ''})"
        )
        con.execute(f"copy empty_table to {sql_str(folder / f'{name}_empty.parquet')} (format parquet)")
