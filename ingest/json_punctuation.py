"""Counting `"` and `:` in JSON text, to prove a typed read saw every key and every string.

DuckDB's typed JSON reader is faster than reading blocks as JSON text (see
bench/README.md), but it hides two things: keys it was not asked for are dropped, and a
number where a string was expected comes back as its text. Both show in two byte counts
of the raw file:

- a `:` outside strings follows a key, so colons = keys + colons inside strings;
- a `"` outside strings delimits a key or a string, so quotes = 2 x (keys + strings)
  + quotes inside strings (each written `\\"`).

The typed read gives the keys and strings it expected, and the text inside them, so the
counts it predicts equal the file's exactly when nothing was dropped or coerced: an extra
key adds a colon no typed value accounts for, and a non-string value lacks its two quotes.
Only the escapes `\\u0022` and `\\u003a` could hide a quote or colon from the raw count, so
a file spelling either is never taken as proven.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from svit.core.arrow_strings import string_bytes
from svit.core.swar import ONE, bytes_equal, compiled, popcount

_QUOTE, _COLON, _BACKSLASH = ord('"'), ord(":"), ord("\\")
_U, _ZERO, _TWO, _THREE, _A = (ord(c) for c in "u023a")
_HIDING_ESCAPE = re.compile(rb"\\u00(?:22|3[aA])")
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:')  # a JSON string followed by a colon: a key
_CHUNK = 1 << 24


@dataclass
class Punctuation:
    quotes: int = 0
    colons: int = 0
    hiding_escapes: bool = False

    def __iadd__(self, other: Punctuation) -> Punctuation:
        self.quotes += other.quotes
        self.colons += other.colons
        self.hiding_escapes |= other.hiding_escapes
        return self


def _count(data: np.ndarray) -> Punctuation:
    quotes, colons = _quotes_and_colons(data)
    return Punctuation(quotes, colons)


@compiled
def _quotes_and_colons(data):
    """The quotes and colons in `data` (bytes), eight bytes at a time in one pass, where numpy
    took a pass and an array of booleans per byte value (bench/README.md). A loop of its own,
    without the escape search below: with it in the same loop the compiler no longer
    vectorises the count, and the two together cost more than apart."""
    whole = data.size // 8
    words = data[: whole * 8].view(np.uint64)
    quotes, colons = np.uint64(0), np.uint64(0)
    for k in range(whole):
        quotes += popcount(bytes_equal(words[k], _QUOTE))
        colons += popcount(bytes_equal(words[k], _COLON))
    q, c = np.int64(quotes), np.int64(colons)
    for j in range(whole * 8, data.size):
        q += np.int64(data[j] == _QUOTE)
        c += np.int64(data[j] == _COLON)
    return q, c


@compiled
def _has_hiding_escape(data):
    """Whether `\\u0022`, `\\u003a` or `\\u003A` starts in `data` and ends in it: looked for
    only behind the backslashes each 8-byte word holds, where a numpy pass took arrays of
    booleans over every byte (bench/README.md)."""
    whole = data.size // 8
    words = data[: whole * 8].view(np.uint64)
    for k in range(whole):
        slashes = bytes_equal(words[k], _BACKSLASH)
        while slashes:
            # The lowest flagged byte (little-endian: the first in the buffer), by the bits
            # below its flag.
            if _escape_at(data, k * 8 + np.int64(popcount((slashes & (~slashes + ONE)) - ONE) >> np.uint64(3))):
                return True
            slashes &= slashes - ONE
    for j in range(whole * 8, data.size):
        if data[j] == _BACKSLASH and _escape_at(data, j):
            return True
    return False


@compiled
def _escape_at(data, at):
    """Whether a hiding escape starts at `at` and ends inside `data` (`| 0x20`: `A` -> `a`)."""
    if at + 5 >= data.size or data[at + 1] != _U or data[at + 2] != _ZERO or data[at + 3] != _ZERO:
        return False
    third, fourth = data[at + 4], data[at + 5] | 0x20
    return (third == _TWO and fourth == _TWO) or (third == _THREE and fourth == _A)


class RawCounter:
    """Counts the punctuation of a byte stream fed in chunks (read `counts` after `done`)."""

    def __init__(self) -> None:
        self.counts = Punctuation()
        self._tail = b""
        self.done = threading.Event()

    def feed(self, chunk: bytes) -> None:
        data = np.frombuffer(chunk, np.uint8)
        self.counts += _count(data)
        if not self.counts.hiding_escapes:
            # The seam catches an escape that starts in the last bytes of the previous chunk.
            self.counts.hiding_escapes = _has_hiding_escape(data) or bool(_HIDING_ESCAPE.search(self._tail + chunk[:8]))
        self._tail = chunk[-8:]

    def count_file(self, path: Path) -> None:
        """Count a whole file (run in a thread beside the DuckDB scan of the same file)."""
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    self.feed(chunk)
        finally:
            self.done.set()


def text_punctuation(array: pa.Array) -> Punctuation:
    """The punctuation inside the strings of a string array (nulls hold no bytes)."""
    if array.null_count == len(array):
        return Punctuation()
    return _count(string_bytes(array))


def key_names(data: bytes) -> list[str]:
    """The key names in a piece of JSON text, first seen first (a guess at what a typed read
    should ask for: a string before a colon inside a value counts too, and the proof above
    finds any key the guess missed)."""
    names: dict[str, None] = {}
    for raw in dict.fromkeys(_KEY.findall(data)):
        try:
            names.setdefault(json.loads(b'"' + raw + b'"'))
        except ValueError:
            continue
    return list(names)
