"""Reading files whole: the sha256 that identifies a source's bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path


def sha256_of(path: Path, on_chunk: Callable[[bytes], None] | None = None) -> str:
    """The file's sha256, read in 4 MiB chunks; `on_chunk` sees every chunk as it is read."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
    return digest.hexdigest()
