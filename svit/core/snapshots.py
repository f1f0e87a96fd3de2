"""Atomic warehouse writes, one writer at a time, and readers that keep their snapshot.

Layout under the warehouse root:

    .snapshots/<run_id>/<table>/...   one complete set of tables and its manifest.json
    current -> .snapshots/<run_id>    replaced with one rename, so readers see old or new, never half
    <table> -> current/<table>        stable paths for DuckDB, Polars, ad-hoc SQL
    .write.lock                       held by `svit ingest`, `drop`, `build` and `mix` while they write
    .readers/<run_id>.lock            held (shared) by every command reading that snapshot

An ingest killed at any point leaves `current` on the previous snapshot; its unfinished
`.partial` folder is removed by the next run. A published snapshot replaces the previous
one, which is deleted as soon as no reader holds it and no model in svit.duckdb was built
from it (the next publish retries what it could not delete).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from svit.core.errors import SvitError
from svit.core.tables import TABLES

SNAPSHOTS = ".snapshots"
CURRENT = "current"
PARTIAL = ".partial"
READERS = ".readers"
WRITE_LOCK = ".write.lock"
# The snapshot the models in svit.duckdb were built from (written by `svit build`).
MODELS_RECORD = Path("dbt") / "built_from.json"

# Locks this process holds: flock is per open file, so a second flock of the same file from
# the same process would wait on itself (`svit mix` builds twice under one lock).
_held_writes: dict[Path, int] = {}
# Snapshots this process reads from: `current_snapshot` answers with them while they are held,
# so every query of one command reads the same snapshot even if another is published meanwhile.
_pinned: dict[Path, Path] = {}


@contextlib.contextmanager
def write_lock(root: Path, command: str, create: bool = False) -> Iterator[None]:
    """One writer (ingest, drop, build, mix) at a time per warehouse; another one stops with one
    line. Only `create` (ingest) makes a warehouse that is not there yet."""
    if not root.is_dir() and not create:
        raise SvitError(f"no warehouse at {root}: run `svit ingest SOURCE_DIR` (or `svit demo`) first")
    if root in _held_writes:
        _held_writes[root] += 1
        try:
            yield
        finally:
            _held_writes[root] -= 1
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / WRITE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SvitError(
            f"cannot write the warehouse {root}: {exc.strerror}; check the path and its permissions"
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another svit command"
            raise SvitError(f"{holder} is writing {root}; wait for it to finish and run this again") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`svit {command}` (pid {os.getpid()})".encode(), 0)
        _held_writes[root] = 1
        try:
            yield
        finally:
            del _held_writes[root]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def current_snapshot(root: Path) -> Path | None:
    """The snapshot this process reads: the one it holds, else the one `current` names now."""
    if root in _pinned:
        return _pinned[root]
    link = root / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


@contextlib.contextmanager
def holding(root: Path, *snapshots: Path | None) -> Iterator[None]:
    """Keep `snapshots` on disk while the block runs: a publish meanwhile does not delete them."""
    fds = []
    try:
        for snap in dict.fromkeys(s for s in snapshots if s is not None):
            folder = root / READERS
            try:
                folder.mkdir(exist_ok=True)
                fd = os.open(folder / f"{snap.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                # A warehouse this user cannot write (a copy shared read-only): read without
                # holding; a publish by its owner meanwhile may then remove what is being read.
                continue
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_SH)
            if not snap.is_dir():  # deleted between resolving `current` and taking the lock
                raise SvitError(f"snapshot {snap.name} of {root} was replaced while opening it; run the command again")
        yield
    finally:
        for fd in fds:
            os.close(fd)


@contextlib.contextmanager
def reading(root: Path) -> Iterator[Path | None]:
    """Read the current snapshot, and the one the models were built from, for the whole block."""
    if root in _pinned:
        yield _pinned[root]
        return
    snap = current_snapshot(root)
    built = [root / SNAPSHOTS / name for name in sorted(models_snapshots(root))]
    with holding(root, snap, *built):
        if snap is not None:
            _pinned[root] = snap
        try:
            yield snap
        finally:
            _pinned.pop(root, None)


def models_record(root: Path) -> dict | None:
    """What `svit build` recorded: {"snapshot": run id, "built_at": ...}, or None before a build."""
    path = root / MODELS_RECORD
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def models_snapshot(root: Path) -> str | None:
    record = models_record(root)
    return record.get("snapshot") if record else None


def models_snapshots(root: Path) -> set[str]:
    """Every snapshot the models may read: two while a build that moves them has not finished."""
    record = models_record(root) or {}
    return {name for name in (record.get("snapshot"), record.get("previous")) if name}


def write_models_record(root: Path, record: dict) -> None:
    path = root / MODELS_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)


def previous_manifest(root: Path) -> dict | None:
    snap = current_snapshot(root)
    if snap is None or not (snap / "manifest.json").is_file():
        return None
    try:
        return json.loads((snap / "manifest.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SvitError(
            f"{snap / 'manifest.json'} is damaged ({exc.__class__.__name__}): the list of sources is lost; "
            "ingest the sources again into a new warehouse"
        ) from exc


def new_staging(root: Path, run_id: str) -> Path:
    """A fresh folder for this run's tables; leftovers of killed runs are removed first."""
    snapshots = root / SNAPSHOTS
    snapshots.mkdir(parents=True, exist_ok=True)
    for stale in snapshots.glob(f"*{PARTIAL}"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = snapshots / f"{run_id}{PARTIAL}"
    staging.mkdir()
    return staging


def reuse(previous: Path, staging: Path, relative: str) -> None:
    """Bring a folder of unchanged output over from the previous snapshot by hard links."""
    source = previous / relative
    if not source.exists():
        return
    for file in source.rglob("*"):
        if file.is_file():
            target = staging / relative / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(file, target)
            except OSError:
                shutil.copy2(file, target)


def inventory(snapshot: Path) -> dict[str, int]:
    """Every table file of a snapshot and its size, recorded in its manifest to find damage later."""
    return {
        str(p.relative_to(snapshot)): p.stat().st_size
        for p in sorted(snapshot.rglob("*.parquet"))
        if p.is_file() and not p.relative_to(snapshot).parts[0].startswith(".")
    }


def damaged_files(snapshot: Path, manifest: dict) -> list[str]:
    """Table files of `snapshot` that no longer match its manifest: missing, resized, not Parquet."""
    damaged = []
    for relative, size in manifest.get("inventory", {}).items():
        path = snapshot / relative
        try:
            if path.stat().st_size != size:
                damaged.append(relative)
                continue
            with open(path, "rb") as fh:
                fh.seek(-4, os.SEEK_END)
                if fh.read(4) != b"PAR1":  # a Parquet file ends with its magic; a cut one does not
                    damaged.append(relative)
        except OSError:
            damaged.append(relative)
    return damaged


def publish(root: Path, staging: Path) -> Path:
    """Make `staging` the current snapshot in one atomic rename, then drop snapshots nobody uses."""
    final = staging.with_name(staging.name.removesuffix(PARTIAL))
    _fsync_tree(staging)
    staging.rename(final)
    tmp_link = root / f".{CURRENT}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(Path(SNAPSHOTS) / final.name)
    os.replace(tmp_link, root / CURRENT)
    _fsync_dir(root)
    for table in TABLES:
        link = root / table
        if (final / table).is_dir():
            if not link.is_symlink():
                if link.exists():
                    raise SvitError(f"{link} exists and is not a table link; move it away and ingest again")
                link.symlink_to(Path(CURRENT) / table)
        elif link.is_symlink():
            link.unlink()
    remove_unused_snapshots(root)
    return final


def remove_unused_snapshots(root: Path) -> None:
    """Delete the snapshots that are not current, not the models' and not held by a reader."""
    current = (root / CURRENT).resolve()
    keep = {current.name} | models_snapshots(root)
    for old in (root / SNAPSHOTS).iterdir():
        if old.name in keep or old.name.endswith(PARTIAL):
            continue
        lock = root / READERS / f"{old.name}.lock"
        lock.parent.mkdir(exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a reader still uses it: a later publish deletes it
            shutil.rmtree(old, ignore_errors=True)
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
