"""Atomic warehouse writes: every ingest builds a new snapshot aside and swaps it in at once.

Layout under the warehouse root:

    .snapshots/<run_id>/<table>/...   one complete set of tables and its manifest.json
    current -> .snapshots/<run_id>    replaced with one rename, so readers see old or new, never half
    <table> -> current/<table>        stable paths for DuckDB, Polars, dbt sources

An ingest killed at any point leaves `current` on the previous snapshot; its unfinished
`.partial` folder is removed by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

from svit.errors import SvitError

SNAPSHOTS = ".snapshots"
CURRENT = "current"
PARTIAL = ".partial"
from ingest.tables import TABLES  # noqa: E402  (the table names, in one place)


@contextlib.contextmanager
def ingest_lock(root: Path) -> Iterator[None]:
    """One ingest at a time per warehouse."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".ingest.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SvitError(f"another `svit ingest` is writing {root}; wait for it to finish") from exc
        yield


def current_snapshot(root: Path) -> Path | None:
    link = root / CURRENT
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def previous_manifest(root: Path) -> dict | None:
    snap = current_snapshot(root)
    if snap is None or not (snap / "manifest.json").is_file():
        return None
    return json.loads((snap / "manifest.json").read_text())


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


def publish(root: Path, staging: Path) -> Path:
    """Make `staging` the current snapshot in one atomic rename, then drop older snapshots."""
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
    for old in (root / SNAPSHOTS).iterdir():
        if old != final and not old.name.endswith(PARTIAL):
            shutil.rmtree(old, ignore_errors=True)
    return final


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
