"""Files whole: the sha256 that identifies a source's bytes, and writing a file atomically."""

from __future__ import annotations

import hashlib
import os
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


def atomic_write_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a temporary file beside it, renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
