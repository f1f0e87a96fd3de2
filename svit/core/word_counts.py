"""Words of each text of an Arrow string array, as the statistics count them.

The definition is macros/word_count.sql's: runs of characters other than ASCII whitespace
(space, tab, newline, CR, VT, FF), with LLaVA's `<image>` token a separator, never a word.
Ingest counts the words of every turn it stores (the `words` column of `turns` and
`llava_turns`, docs/warehouse.md): an SVIT turn as it passes through Python on its way to
Parquet, a LLaVA file's turn through the DuckDB function `svit_word_count` that `register`
adds to ingest's connection. `svit stats` reads them instead of counting 3 GB of text again
in every run; the SQL macro stays the definition for text the warehouse renders itself, and
for turns written before the columns existed.

The count is a compiled loop (Numba) over the array's bytes in place, eight bytes at a
time: which bytes are whitespace is worked out for a whole 64-bit word with integer
arithmetic, and a word starts at each non-whitespace byte that follows whitespace or the
start of the text. A text that may hold `<image>` (a `<` followed by `i`) is counted again
byte by byte, the token taken out. Nothing here reads beyond the array's buffers. The byte
arithmetic is svit/core/swar.py's.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
from numba import njit

from svit.core.swar import ALL, HIGH, LOW, ONE, bytes_equal, compiled, popcount

_LAST_BYTE_HIGH = np.uint64(0x80 << 56)


@njit(inline="always")
def _whitespace(x):
    """The high bit of each byte of `x` that is ASCII whitespace: 32, or 9 to 13."""
    space = bytes_equal(x, 32)
    # For a byte below 128, (b | 128) - 9 keeps its high bit when b >= 9 (no borrow crosses
    # bytes: each minuend is at least 128); the same with 14; bytes from 128 up are never
    # whitespace (~x).
    from_9 = (x | HIGH) - LOW * np.uint64(9)
    from_14 = (x | HIGH) - LOW * np.uint64(14)
    return (space | (from_9 & ~from_14 & ~x)) & HIGH


@njit(inline="always")
def _low_bytes(n):
    """A mask of the `n` lowest bytes of a word (0 <= n <= 8)."""
    return ALL if n >= 8 else (ONE << np.uint64(n * 8)) - ONE


@njit(inline="always")
def _word_at(data, words64, k):
    """The k-th 64-bit word of `data` (little-endian); past the whole words, the tail bytes and zeros."""
    if k < len(words64):
        return words64[k]
    value = np.uint64(0)
    for j in range(k * 8, min(k * 8 + 8, len(data))):
        value |= np.uint64(data[j]) << np.uint64((j - k * 8) * 8)
    return value


@compiled
def _words_with_image_token(data, start, end):
    """The words of data[start:end] byte by byte, each `<image>` a separator."""
    words, after_space, j = 0, True, start
    while j < end:
        b = data[j]
        if (
            b == 60  # <image>
            and j + 7 <= end
            and data[j + 1] == 105
            and data[j + 2] == 109
            and data[j + 3] == 97
            and data[j + 4] == 103
            and data[j + 5] == 101
            and data[j + 6] == 62
        ):
            after_space = True
            j += 7
            continue
        space = b == 32 or 9 <= b <= 13
        if after_space and not space:
            words += 1
        after_space = space
        j += 1
    return words


@njit(inline="always")
def _starts_and_token(x, space, previous, valid):
    """Word starts among the bytes of `valid`, and the bytes that may begin `<image>`."""
    # Byte j starts a word when it is not whitespace and byte j - 1 is.
    space_before = (space << np.uint64(8)) | (previous >> np.uint64(56))
    starts = popcount(~space & space_before & HIGH & valid)
    # `<` followed by `i` (the last byte's follower is in the next word: taken as `i`).
    lt = bytes_equal(x, 60)
    i_next = (bytes_equal(x, 105) >> np.uint64(8)) | _LAST_BYTE_HIGH
    return starts, lt & i_next & valid


@compiled
def _count(offsets, data, words64, out):
    for i in range(len(offsets) - 1):
        start, end = offsets[i], offsets[i + 1]
        if start == end:
            out[i] = 0
            continue
        first, last = start >> 3, (end - 1) >> 3
        # The first word: its bytes before the text count as whitespace, and start no word.
        x = _word_at(data, words64, first)
        before = _low_bytes(start - first * 8)
        valid = ~before
        if first == last:
            valid &= _low_bytes(end - last * 8)
        space = _whitespace(x) | (HIGH & before)
        starts, maybe_token = _starts_and_token(x, space, HIGH, valid)
        previous = space
        for k in range(first + 1, last):
            x = words64[k]
            space = _whitespace(x)
            more, token = _starts_and_token(x, space, previous, ALL)
            starts += more
            maybe_token |= token
            previous = space
        if last > first:
            # The last word: its bytes after the text start no word.
            x = _word_at(data, words64, last)
            space = _whitespace(x)
            more, token = _starts_and_token(x, space, previous, _low_bytes(end - last * 8))
            starts += more
            maybe_token |= token
        out[i] = _words_with_image_token(data, start, end) if maybe_token else np.int64(starts)


def word_counts(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The words of each text (int32); null where the text is null."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    n = len(texts)
    offset_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    _, offset_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offset_buffer, offset_type, n + 1, texts.offset * np.dtype(offset_type).itemsize)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    whole = len(data) // 8 * 8
    out = np.empty(n, np.int32)
    _count(offsets.astype(np.int64, copy=False), data, data[:whole].view(np.uint64), out)
    mask = texts.is_null().to_numpy(zero_copy_only=False) if texts.null_count else None
    return pa.array(out, pa.int32(), mask=mask)


def load_in_background() -> threading.Thread:
    """Load the compiled loop on a thread of its own: its first call reads Numba's cache and
    types the arguments (its cost: bench/README.md), which a command that counts words only after waiting
    for something else (the mix manifests, after dbt) can spend while it waits."""
    thread = threading.Thread(target=word_counts, args=(pa.array(["a"]),), daemon=True)
    thread.start()
    return thread


# The DuckDB function `register` adds: the words of a VARCHAR, as an INTEGER.
SQL_FUNCTION = "svit_word_count"


def register(con) -> None:
    """Add `svit_word_count(text)` to a DuckDB connection (its cursors see it too)."""
    con.create_function(SQL_FUNCTION, word_counts, ["VARCHAR"], "INTEGER", type="arrow", side_effects=False)
