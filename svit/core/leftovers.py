"""Temporary files and folders left by processes that are gone: name them after their owner,
remove them when the owner is dead.

A run killed with SIGKILL (or by the OOM killer) runs no cleanup, so what it wrote on the
side (a partial export, DuckDB's spill folder) stays. Such names carry the writer's pid, and
the next run removes the ones whose process no longer exists: never one of a live process (a
run going on beside it), never one of another user, and, when the name also carries a host,
never one written from another host (a shared folder, where that pid means nothing here).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

# The owner part of a name, as owner_tag() writes it, for the patterns given to remove_dead.
OWNER = r"(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)"


def owner_tag(pid: int | None = None) -> str:
    """`<pid>@<host>`, this process's unless `pid` is given (the host without dots, which
    separate the parts of the names it goes into)."""
    return f"{os.getpid() if pid is None else pid}@{_host()}"


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())


def remove_dead(folder: Path, pattern: re.Pattern) -> list[Path]:
    """Remove the files and folders in `folder` whose name matches `pattern` and whose owner
    is gone; returns what was removed.

    `pattern` has a group `pid`, and may have a group `host` (OWNER gives both): names with
    another host are left alone. So is anything this user does not own, or cannot remove.
    """
    here = _host() if "host" in pattern.groupindex else None
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or (here is not None and match.group("host") != here) or _alive(int(match.group("pid"))):
            continue
        try:
            if entry.lstat().st_uid != os.getuid():
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)  # as much as can go; reported only when all did
            else:
                entry.unlink()
        except OSError:
            continue  # gone already, or not ours to remove
        if not entry.exists() and not entry.is_symlink():
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process, or not a pid at all
        return True
    return True
