"""`svit ingest`: every input of a download into one new warehouse snapshot, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pyarrow
from tqdm import tqdm

import svit
from ingest import coco, llava, snapshot, svit_original, visual_genome
from ingest.duck import connect, sql_str
from ingest.json_punctuation import RawCounter
from ingest.malloc import keep_batches_in_heap
from ingest.tables import TABLES
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
)
from svit.errors import SvitError
from svit.warehouse import Warehouse


@dataclass
class FileReport:
    """One manifest row: what one input file gave in this run."""

    name: str
    path: str
    kind: str
    bytes: int
    sha256: str
    status: str = "ingested"  # or "unchanged" when reused from the previous snapshot
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    seconds: float = 0.0
    cache_key: str = ""
    reader: str = ""  # SVIT files: the scan kept (typed, json or tolerant)
    outputs: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    run_id: str
    snapshot: Path | None
    files: list[FileReport]
    up_to_date: bool = False

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
        return [f"llava_records/source={source}", f"llava_turns/source={source}"]
    if item.kind == VG_IMAGE_DATA:
        return ["images"]
    if item.kind == VG_OBJECTS:
        return ["vg_objects"]
    if item.kind == VG_REGIONS:
        return ["vg_regions"]
    split = item.path.stem.removeprefix("captions_")
    return [f"coco_captions/split={split}"]


def run_ingest(source_dir: Path, llava_files: tuple[Path, ...], warehouse: Warehouse, progress: bool = True) -> IngestReport:
    """Ingest a BAAI/SVIT download (and extra LLaVA files) into a new snapshot of the warehouse."""
    inputs = discover(Path(source_dir), tuple(Path(p) for p in llava_files))
    if not inputs:
        raise SvitError(
            f"{source_dir}: no SVIT, LLaVA, Visual Genome or COCO files found "
            "(expected data/<task>.json or .zip, format/llava-v1.5/*.json, raw/annotations/...)"
        )
    root = warehouse.root
    keep_batches_in_heap()
    with snapshot.ingest_lock(root):
        return _ingest_locked(inputs, root, progress)


def _file_reports(inputs: list[InputFile], hashes: dict[InputFile, str], versions: dict[str, str]) -> dict[InputFile, FileReport]:
    image_data = next((i for i in inputs if i.kind == VG_IMAGE_DATA), None)
    reports = {}
    for item in inputs:
        # SVIT rows are checked against image_data.json, so they depend on it too.
        depends = hashes[image_data] if image_data and item.kind in (SVIT_TASK, SVIT_ALL) else ""
        key = f"{hashes[item]}:{depends}:{versions['svit']}:{versions['duckdb']}"
        reports[item] = FileReport(item.name, item.display, item.kind, item.size, hashes[item], cache_key=key, outputs=_outputs(item))
    return reports


def _ingest_locked(inputs: list[InputFile], root: Path, progress: bool) -> IngestReport:
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    versions = tool_versions()
    previous = snapshot.previous_manifest(root)
    previous_dir = snapshot.current_snapshot(root)
    before = {f["name"]: f for f in previous["files"]} if previous else {}
    # Hashes decide what a rerun may skip; on a first run nothing can be skipped, so they
    # are computed in the background while the files are read.
    hasher = ThreadPoolExecutor(max_workers=1)
    # The typed read of an SVIT file needs the file's punctuation: counted on the same read.
    counters = {i: RawCounter() for i in inputs if i.kind in (SVIT_TASK, SVIT_ALL) and i.member is None}
    pending = {item: hasher.submit(_hash, item, counters.get(item)) for item in inputs}
    unchanged: set[InputFile] = set()
    reports: dict[InputFile, FileReport] = {}
    if previous:
        reports = _file_reports(inputs, {i: f.result() for i, f in pending.items()}, versions)
        unchanged = {item for item in inputs if before.get(item.name, {}).get("cache_key") == reports[item].cache_key}
        if unchanged == set(inputs) and set(before) == {i.name for i in inputs}:
            hasher.shutdown()
            return IngestReport(previous["run_id"], previous_dir, [FileReport(**f) for f in previous["files"]], up_to_date=True)
    else:
        reports = {item: FileReport(item.name, item.display, item.kind, item.size, "", outputs=_outputs(item)) for item in inputs}

    staging = snapshot.new_staging(root, run_id)
    try:
        con = connect(staging / ".duckdb_tmp")
        con.execute(f"create temp table rejects ({TABLES['rejects'][0]})")
        if previous_dir is not None and (previous_dir / "rejects").is_dir():
            # Rejects of unchanged files carry over; the files read now add their own.
            kept = [i.name for i in inputs if i in unchanged]
            if kept:
                con.execute(
                    f"insert into rejects select * from read_parquet({sql_str(previous_dir / 'rejects' / '*.parquet')}) "
                    f"where source in (select unnest(?::varchar[]))",
                    [kept],
                )
        with feeds_for(inputs) as feeds:
            for item in inputs:
                if item in unchanged:
                    for relative in reports[item].outputs:
                        snapshot.reuse(previous_dir, staging, relative)
                    old = before[item.name]
                    reports[item].status = "unchanged"
                    for key in ("records_read", "records_written", "records_rejected", "seconds", "reader"):
                        setattr(reports[item], key, old.get(key, ""))
            image_data = next((i for i in inputs if i.kind == VG_IMAGE_DATA), None)
            _ingest_changed(con, [i for i in inputs if i not in unchanged], feeds, staging, image_data, reports, progress, counters)
        _write_rejects(con, staging)
        if not previous:
            for item, fresh in _file_reports(inputs, {i: f.result() for i, f in pending.items()}, versions).items():
                reports[item].sha256, reports[item].cache_key = fresh.sha256, fresh.cache_key
        hasher.shutdown()
        _write_manifest(con, staging, run_id, versions, list(reports.values()))
        _write_empty_tables(con, staging)
        con.close()
        shutil.rmtree(staging / ".duckdb_tmp", ignore_errors=True)
        final = snapshot.publish(root, staging)
    except BaseException:
        hasher.shutdown(cancel_futures=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return IngestReport(run_id, final, list(reports.values()))


def _hash(item: InputFile, counter: RawCounter | None) -> str:
    try:
        return item.sha256(counter.feed if counter else None)
    finally:
        if counter is not None:
            counter.done.set()


def _ingest_changed(con, todo, feeds, staging, image_data, reports, progress, counters) -> None:
    """Read the inputs that changed (all of them on a first run) into the staging snapshot."""
    def timed(item_list, work):
        started = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - started
        for item in item_list:
            reports[item].seconds = round(elapsed, 3)
        return result, elapsed

    # image_data first: SVIT rows are checked against it. Reused or not, load the known ids.
    check_images = image_data is not None
    if image_data is not None:
        if image_data in todo:
            counts, _ = timed([image_data], lambda: visual_genome.ingest_image_data(con, image_data, feeds, staging, progress))
            _set_counts(reports[image_data], counts)
        else:
            con.execute(
                f"create or replace table images_known as select image_id from read_parquet({sql_str(staging / 'images' / '*.parquet')})"
            )
    svit_files = [i for i in todo if i.kind in (SVIT_TASK, SVIT_ALL)]
    if svit_files:
        counts, elapsed = timed(
            svit_files, lambda: svit_original.ingest_svit_files(con, svit_files, feeds, staging, check_images, progress, counters)
        )
        for item, c in counts.items():
            # For SVIT files: records read are image items, records written are blocks.
            _set_counts(reports[item], (c.records_read, c.blocks_written, c.rejected))
            reports[item].reader = c.reader
            _say(progress, f"{item.name}: {c.records_read:,} records, {c.blocks_written:,} blocks, "
                           f"{c.turns_written:,} turns, {c.boxes_written:,} boxes, {c.rejected:,} rejected, {c.reader} read "
                           f"({c.records_read / max(elapsed, 1e-9):,.0f} records/s together)")
    readers = {
        LLAVA: llava.ingest_llava_file,
        VG_OBJECTS: visual_genome.ingest_objects,
        VG_REGIONS: visual_genome.ingest_regions,
        COCO_CAPTIONS: coco.ingest_captions,
    }
    for item in todo:
        if item.kind not in readers:
            continue
        counts, elapsed = timed([item], lambda: readers[item.kind](con, item, feeds, staging, progress))
        _set_counts(reports[item], counts)
        _say(progress, f"{item.name}: {counts[0]:,} records, {counts[1]:,} written, {counts[2]:,} rejected "
                       f"({counts[0] / max(elapsed, 1e-9):,.0f} records/s)")


def _set_counts(report: FileReport, counts: tuple[int, int, int]) -> None:
    report.records_read, report.records_written, report.records_rejected = counts


def _say(progress: bool, line: str) -> None:
    if progress:
        tqdm.write(f"  {line}")


def _write_rejects(con, staging: Path) -> None:
    """Every rejected record, with its file, record index, reason and JSON."""
    (staging / "rejects").mkdir()
    con.execute(
        f"""copy (select * from rejects order by source, record_index, block nulls first)
        to {sql_str(staging / 'rejects' / 'rejects_0.parquet')} (format parquet, compression zstd)"""
    )


def _write_manifest(con, staging: Path, run_id: str, versions: dict[str, str], files: list[FileReport]) -> None:
    manifest = {
        "run_id": run_id,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "tool_versions": versions,
        "files": [asdict(f) for f in files],
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (staging / "manifest").mkdir()
    con.execute(f"create temp table manifest ({TABLES['manifest'][0]})")
    con.executemany(
        "insert into manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (run_id, f.name, f.path, f.kind, f.bytes, f.sha256, f.status, f.records_read, f.records_written,
             f.records_rejected, f.seconds, json.dumps(versions), f.reader or None)
            for f in files
        ],
    )
    con.execute(f"copy manifest to {sql_str(staging / 'manifest' / 'manifest_0.parquet')} (format parquet, compression zstd)")


def _write_empty_tables(con, staging: Path) -> None:
    """A table no input fed still exists, empty, with its columns."""
    for name, (columns, partition) in TABLES.items():
        folder = staging / name
        if folder.is_dir() and any(folder.rglob("*.parquet")):
            continue
        folder.mkdir(exist_ok=True)
        # With no partition folders, the partition column must be in the file itself.
        con.execute(f"create or replace temp table empty_table ({columns}{f', {partition} varchar' if partition else ''})")
        con.execute(f"copy empty_table to {sql_str(folder / f'{name}_empty.parquet')} (format parquet)")
