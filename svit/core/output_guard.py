"""Refuse an output path that would write over the warehouse.

`svit export --out`, `svit mix --export` and `svit stats --out` take any path. One inside
the warehouse directory could replace svit.duckdb, a table's Parquet file or a snapshot, or
leave files among the tables that the next ingest or build trips over. Only the folders
made for outputs (`<warehouse>/exports/`, `<warehouse>/report/`, which `svit demo` writes
into) are allowed.

A path is compared as written (made absolute, `..` folded), with its folder's symlinks
resolved, and resolved completely (so a symlink elsewhere that points into the warehouse
counts as the file it points to). It is compared against the warehouse directory, against
where its snapshots really are and against the target of each top-level symlink (`current`,
the table links), in case any of those live outside the directory. Hard links are not
looked for: an export is renamed into place, which replaces a hard link instead of writing
through it, and a folder (the report's) cannot be one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from svit.core.errors import SvitError
from svit.core.snapshots import SNAPSHOTS
from svit.core.warehouse import Warehouse


def check_output(
    warehouse: Warehouse,
    out: Path | str,
    allowed: Sequence[str] = ("exports", "report"),
    what: str = "outputs",
) -> None:
    """Raise SvitError if writing `out` could touch the warehouse, unless it is under `<root>/<allowed>`."""
    root = _resolve(Path(warehouse.root), out)
    given = Path(os.path.abspath(out))
    views = [given, _resolve(given.parent, out) / given.name, _resolve(given, out)]
    bases = _bases(root, allowed)
    open_dirs = _allowed_dirs(root, allowed, bases)
    database = root / warehouse.duckdb_path.name

    def refused(path: Path) -> bool:
        return any(_within(path, b) for b in bases) and not any(_within(path, d) for d in open_dirs)

    def table_data(path: Path) -> bool:
        return not _within(path, root) or _within(path, root / SNAPSHOTS)

    failing = [p for p in views if refused(p)]
    if not failing:
        return
    # The most telling of the ways the path was seen (as written, or where it leads).
    path = min(failing, key=lambda p: (p != root, p != database, not table_data(p)))
    resolved = f" (it resolves to {path})" if path != given else ""
    if path == root:
        problem = f"is the warehouse {root} itself"
    elif path == database:
        problem = f"is the warehouse's database {path}"
    elif table_data(path):
        problem = f"is table data of the warehouse {root}{resolved}"
    else:
        problem = f"is inside the warehouse {root}{resolved}"
    where = " or ".join(f"{root / name}/" for name in allowed)
    todo = f"write {what} outside it or into {where}" if allowed else f"write {what} outside it"
    raise SvitError(f"--out {given} {problem}; {todo}")


def _resolve(path: Path, given: Path | str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise SvitError(f"--out {given}: cannot resolve the path ({exc})") from exc


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _bases(root: Path, allowed: Sequence[str]) -> list[Path]:
    """The warehouse directory and every place outside it that its symlinks lead to."""
    bases = [root]
    links = [root / SNAPSHOTS]
    try:
        links += [entry for entry in root.iterdir() if entry.name not in allowed and entry.is_symlink()]
    except OSError:  # no warehouse yet (or not readable): nothing of it can be written over
        pass
    for link in links:
        try:
            target = link.resolve()
        except (OSError, RuntimeError):
            continue
        if not _within(target, root) and target.parent != target:  # a link to / would forbid everything
            bases.append(target)
    return bases


def _allowed_dirs(root: Path, allowed: Sequence[str], bases: list[Path]) -> list[Path]:
    """`<root>/<name>` for each allowed name, unless it is a symlink back into the warehouse
    (then the files under it are the warehouse's own)."""
    dirs = []
    for name in allowed:
        folder = root / name
        try:
            target = folder.resolve()
        except (OSError, RuntimeError):
            continue
        if target == folder or not any(_within(target, b) for b in bases):
            dirs.append(folder)
            if target != folder:
                dirs.append(target)
    return dirs
