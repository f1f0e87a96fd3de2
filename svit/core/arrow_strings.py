"""The bytes of Arrow string arrays, read in place by the passes that work on them directly
(the punctuation counts, the referring boxes' scan)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_layout(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The array's offsets (its own len + 1 of them, int32 or int64 as stored) and its whole
    data buffer as read-only uint8 (empty when there is none). No copy."""
    _, offsets, data = arr.buffers()
    width = np.dtype(np.int64 if pa.types.is_large_string(arr.type) else np.int32)
    if offsets is None:
        offsets = np.zeros(len(arr) + 1, width)
    else:
        offsets = np.frombuffer(offsets, width, len(arr) + 1, arr.offset * width.itemsize)
    data = np.frombuffer(data if data is not None else b"", np.uint8)
    data.flags.writeable = False  # the array's own buffer: nobody writes through it
    return offsets, data


def string_bytes(arr: pa.Array) -> np.ndarray:
    """The bytes of all strings of `arr`, back to back (a view; nulls hold no bytes)."""
    offsets, data = string_layout(arr)
    return data[offsets[0] : offsets[-1]]
