"""Where an export's bytes go: a temporary file (or folder) beside `--out`, renamed into place
when complete, and the text Polars rendered written from its own buffers.

The temporary names carry their owner (pid and host), so the next export removes what a
killed run left behind and leaves alone what a run still going is writing
(svit/core/leftovers.py).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from svit.core.errors import SvitError
from svit.core.leftovers import OWNER, owner_tag, remove_dead

PARTIAL_SUFFIX = ".partial"
_PARTIAL_NAME = re.compile(rf"^\..+\.{OWNER}\.[a-z0-9_]+\.partial$")
# Where a folder export (parquet) puts the export it replaces while the new one moves in.
_REPLACED_NAME = re.compile(rf"^\..+\.{OWNER}\.[a-z0-9_]+\.replaced$")


def partial_prefix(out: Path) -> str:
    """The start of the temporary file's (or folder's) name beside `out`; a random part and `.partial` follow."""
    return f".{out.name}.{owner_tag()}."


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files and folders in `folder` left by killed exports of this host."""
    return remove_dead(folder, _PARTIAL_NAME) + remove_dead(folder, _REPLACED_NAME)


def check_out(out: Path, folder: bool = False) -> None:
    """Refuse an `--out` whose folder does not exist, or that is of the wrong kind."""
    if not out.parent.is_dir():
        raise SvitError(f"--out {out}: the folder {out.parent} does not exist; create it first")
    if folder:
        if out.exists() and not out.is_dir():
            raise SvitError(f"--out {out} is a file; parquet export writes a folder of shards")
    elif out.is_dir():
        raise SvitError(f"--out {out} is a directory; give a file name")


@contextmanager
def atomic_file(out: Path) -> Iterator[Path]:
    """A temporary file beside `out`, renamed to `out` when the block ends without an error."""
    remove_leftovers(out.parent)
    fd, name = tempfile.mkstemp(prefix=partial_prefix(out), suffix=PARTIAL_SUFFIX, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(out: Path, may_replace) -> Iterator[Path]:
    """A temporary folder beside `out` that takes its place when the block ends without an error.

    An existing `out` is replaced only when `may_replace(out)` says it is an earlier export:
    it is renamed aside, the new folder renamed in, then the old one removed, so `out` is
    always either the old export or the new one.
    """
    if out.exists() and any(out.iterdir()) and not may_replace(out):
        raise SvitError(f"--out {out} holds files that are not an export; give an empty or new folder")
    remove_leftovers(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=partial_prefix(out), suffix=PARTIAL_SUFFIX, dir=out.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        aside = None
        if out.exists():
            aside = out.parent / (tmp.name[: -len(PARTIAL_SUFFIX)] + ".replaced")
            os.replace(out, aside)
        os.replace(tmp, out)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while len(view):
        view = view[os.write(fd, view) :]


def text_buffers(text: pl.Series) -> tuple[pa.Array, list]:
    """The bytes of every string of `text`, in order, as buffers to write (no copy where possible),
    and the array that keeps them alive.

    Polars holds strings as views into data buffers that its builders fill front to back, so
    when every string is stored out of line (longer than 12 bytes) and the views tile the
    buffers exactly, the buffers are the text itself. Anything else is copied into one buffer.
    """
    if text.null_count():
        raise SvitError("a record rendered as null (an unexpected null in the model)")
    arr = text.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_string_view(arr.type) and arr.offset == 0:
        buffers = arr.buffers()
        views = np.frombuffer(buffers[1], np.int32, 4 * len(arr)).reshape(-1, 4) if len(arr) else None
        if views is not None and _views_tile(views, [b.size for b in buffers[2:]]):
            return arr, buffers[2:]
    large = arr.cast(pa.large_string())
    _, offsets, data = large.buffers()
    ends = np.frombuffer(offsets, np.int64, len(large) + 1, large.offset * 8)
    return large, [memoryview(data)[int(ends[0]) : int(ends[-1])]]


def _views_tile(views: np.ndarray, sizes: list[int]) -> bool:
    """Whether the views (length, prefix, buffer, offset) lie back to back, in order, over whole buffers."""
    lengths, buffer, offset = views[:, 0].astype(np.int64), views[:, 2], views[:, 3].astype(np.int64)
    if not len(sizes) or (lengths <= 12).any():
        return False
    same = buffer[1:] == buffer[:-1]
    follows = offset[1:] == offset[:-1] + lengths[:-1]
    starts = ~same & (buffer[1:] == buffer[:-1] + 1) & (offset[1:] == 0)
    if not (same & follows | starts).all() or buffer[0] != 0 or offset[0] != 0 or buffer[-1] != len(sizes) - 1:
        return False
    # Each buffer ends where its last string ends.
    last = np.flatnonzero(np.append(~same, True))
    return bool((offset[last] + lengths[last] == np.asarray(sizes, np.int64)).all())
