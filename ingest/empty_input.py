"""Whether an input holds no records at all: 0 bytes, or an empty `[]` with only whitespace around.

Readers return zero counts for such a file instead of scanning it; the pipeline asks the
same question to decide whether an empty file deserves a warning or an error.
"""

from __future__ import annotations

import zipfile
import zlib

from ingest.sources import COCO_CAPTIONS, InputFile

# An empty array with a little whitespace around it is a few bytes long, so only a file
# smaller than this is read; anything larger is left to the reader, which parses it anyway.
SMALL_BYTES = 64

_WHITESPACE = b" \t\r\n"  # JSON's whitespace
# A COCO captions file is one object, so `{}` holds no captions either.
_NO_RECORDS = {COCO_CAPTIONS: (b"", b"[]", b"{}")}
_NO_RECORDS_DEFAULT = (b"", b"[]")


def is_empty_json(item: InputFile) -> bool:
    """True when `item` is 0 bytes, only whitespace, or `[]` (`{}` too for a COCO file) with whitespace around."""
    try:
        size = item.size
        if size == 0:
            return True
        if size >= SMALL_BYTES:
            return False
        if item.member is None:
            text = item.path.read_bytes()
        else:
            with zipfile.ZipFile(item.path) as zf:
                text = zf.read(item.member)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError):
        return False  # unreadable is not empty: the reader reports the damage, naming the file
    return text.translate(None, _WHITESPACE) in _NO_RECORDS.get(item.kind, _NO_RECORDS_DEFAULT)
