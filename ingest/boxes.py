r"""The boxes of SVIT's referring turns: every `<st>phrase<ed> [x1, y1, x2, y2](, [..])*`.

Taken from each batch of turns as the scan writes them, so the turns are not read back
from Parquet and the work runs beside the JSON parsing of the other files. One compiled
pass (Numba) over the batch's text buffer finds the marks and boxes and gives byte spans;
the strings are then copied out of those spans. It
replaced Arrow's string kernels (a split at each mark, a regular expression per run of
boxes and another per box), which took several times the CPU (bench/README.md).

What counts as a box, as a regular expression (the tests check the pass against them):
after a mark's `<ed>` and before the next `<st>`, `^ ?(\[[^\]\[]*\](?:, \[[^\]\[]*\])*)`, one
row per `[...]`. Offsets count characters, as Python's `str` indexes:
`text[box_offset:][:len(box_text)]` is the box. Numbers are read as Python's `float()`
reads them, only from boxes written the way BAAI's converter reads them
(`^\[([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\]$`, tools/expand_to_square.py); any other
box keeps its text with NULL numbers, and the check rejects its block.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from ingest.parquet_writer import ParquetSink
from svit.core.arrow_strings import string_layout
from svit.core.swar import HIGH, ONE, bytes_equal, compiled, popcount

SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.int64()),
        pa.field("block", pa.int32()),
        pa.field("turn", pa.int32()),
        pa.field("mark_index", pa.int32()),
        pa.field("phrase", pa.string()),
        pa.field("box_index", pa.int32()),
        pa.field("x1", pa.float64()),
        pa.field("y1", pa.float64()),
        pa.field("x2", pa.float64()),
        pa.field("y2", pa.float64()),
        pa.field("box_text", pa.string()),
        pa.field("mark_offset", pa.int32()),
        pa.field("box_offset", pa.int32()),
    ]
)
MARK_PROBLEMS = pa.schema(
    [
        pa.field("image_id", pa.int64()),
        pa.field("block", pa.int32()),
        pa.field("turn", pa.int32()),
        pa.field("problem", pa.string()),
    ]
)


class BoxesAside:
    """Takes the boxes of referring turns on threads of their own while the scan that found
    the turns goes on; writes the boxes (and, given a path, the mark problems) in the order
    the turns came. Two threads compute (Arrow's kernels let go of the GIL) and one writes,
    so the boxes never hold up the scan of the largest referring file."""

    PENDING = 4  # batches of turns under way: the scan runs ahead at most this far

    def __init__(self, boxes_path: Path, marks_path: Path | None) -> None:
        self.boxes_path, self.marks_path = boxes_path, marks_path
        self._sink = ParquetSink()
        self._compute: ThreadPoolExecutor | None = None
        self._write: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def add(self, turns: pa.Table) -> None:
        if self._compute is None:
            self._compute = ThreadPoolExecutor(max_workers=2, thread_name_prefix="svit-boxes")
            self._write = ThreadPoolExecutor(max_workers=1, thread_name_prefix="svit-boxes-writer")
        taken = self._compute.submit(referring_boxes, turns)
        self._pending.append(self._write.submit(self._write_taken, taken))  # one writer: in order
        while len(self._pending) > self.PENDING:
            self._pending.popleft().result()  # re-raises a thread's error

    def _write_taken(self, taken: Future) -> None:
        boxes, mark_problems = taken.result()
        self._sink.write(self.boxes_path, boxes)
        if self.marks_path is not None:
            self._sink.write(self.marks_path, mark_problems)

    def __enter__(self) -> BoxesAside:
        return self

    def __exit__(self, exc_type, *_) -> None:
        try:
            for pool in (self._compute, self._write):
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=exc_type is not None)
            while self._pending and exc_type is None:
                self._pending.popleft().result()
        finally:
            self._sink.close()


def referring_boxes(turns: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The boxes of `turns` (columns image_id, block, turn, text) and the turns whose marks
    are unusable: `<st>` and `<ed>` not paired up, or a `<st>` with no `<ed>` before the next
    `<st>` or the end."""
    ids = turns.select(["image_id", "block", "turn"])
    text = turns.column("text").combine_chunks()
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        text = text.cast(pa.large_string())  # string views: read through offsets
    if text.null_count:
        text = pc.fill_null(text, "")  # a null text holds no marks
    offsets, data = string_layout(text)
    offsets = offsets.astype(np.int64, copy=False)
    # Every box ends at a `]` of its own, so there are at most as many boxes as `]`.
    capacity = int(np.count_nonzero(data[offsets[0] : offsets[-1]] == _RBRACKET))
    found = _Found(capacity)
    suspect = np.zeros(len(text), np.bool_)
    whole = len(data) // 8 * 8
    n = _scan(
        offsets,
        data,
        data[:whole].view(np.uint64),
        suspect,
        found.turn,
        found.mark,
        found.box_index,
        found.phrase_start,
        found.phrase_end,
        found.box_start,
        found.box_end,
        found.mark_offset,
        found.box_offset,
        found.baai,
        found.number_spans,
        found.values,
        found.read,
    )
    found.keep_first(n)

    turn_of_box = pa.array(found.turn)
    boxes = pa.table(
        [
            *ids.take(turn_of_box).columns,
            pa.array(found.mark, pa.int32()),
            _spans(data, found.phrase_start, found.phrase_end),
            pa.array(found.box_index, pa.int32()),
            *(_numbers(data, found, i) for i in range(4)),
            _spans(data, found.box_start, found.box_end),
            pa.array(found.mark_offset, pa.int32()),
            pa.array(found.box_offset, pa.int32()),
        ],
        schema=SCHEMA,
    )
    return boxes, _mark_problems(ids, text, np.flatnonzero(suspect))


class _Found:
    """The boxes the scan found, one row each, in arrays the scan fills."""

    def __init__(self, capacity: int) -> None:
        self.turn = np.empty(capacity, np.int64)  # the row of `turns`
        self.mark = np.empty(capacity, np.int32)  # the mark's index in its turn
        self.box_index = np.empty(capacity, np.int32)  # the box's index after its mark
        # Byte spans in the text buffer: [start, end).
        self.phrase_start = np.empty(capacity, np.int64)
        self.phrase_end = np.empty(capacity, np.int64)
        self.box_start = np.empty(capacity, np.int64)
        self.box_end = np.empty(capacity, np.int64)
        # Characters before the mark and the box in their turn's text.
        self.mark_offset = np.empty(capacity, np.int64)
        self.box_offset = np.empty(capacity, np.int64)
        # Boxes written as BAAI's converter reads them: their four numbers' spans (x1 start,
        # x1 end, y1 start, ...) and values, each value read here or left to Python's float().
        self.baai = np.zeros(capacity, np.bool_)
        self.number_spans = np.zeros((capacity, 8), np.int64)
        self.values = np.zeros((capacity, 4), np.float64)
        self.read = np.zeros((capacity, 4), np.bool_)

    def keep_first(self, n: int) -> None:
        for name, array in vars(self).items():
            setattr(self, name, array[:n])


def _numbers(data: np.ndarray, found: _Found, i: int) -> pa.Array:
    """The i-th number of each box (x1, y1, x2, y2): NULL unless the box is BAAI's shape and
    float() reads the number; float() itself reads those the scan left (`_decimal`)."""
    values, valid = found.values[:, i].copy(), found.baai.copy()
    for k in np.flatnonzero(found.baai & ~found.read[:, i]):
        number = _float(data[found.number_spans[k, 2 * i] : found.number_spans[k, 2 * i + 1]].tobytes().decode())
        values[k], valid[k] = (0.0, False) if number is None else (number, True)
    return pa.array(values, pa.float64(), mask=~valid)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_LT, _GT, _LBRACKET, _RBRACKET, _COMMA, _SPACE, _DOT, _ZERO, _NINE = (ord(c) for c in "<>[], .09")
_S, _T, _E, _D = (ord(c) for c in "sted")
_NO_TOKEN, _ST, _ED = 0, 1, 2


@compiled
def _scan(
    offsets,
    data,
    words,
    suspect,
    turn,
    mark,
    box_index,
    phrase_start,
    phrase_end,
    box_start,
    box_end,
    mark_offset,
    box_offset,
    baai,
    number_spans,
    values,
    read,
):
    """Every box of every text, as `python_boxes` in tests/ingest/test_boxes.py reads them:
    the text split at each `<st>` into pieces; in a piece, the phrase up to its first `<ed>`;
    after that, within the piece, the run of boxes (the module's first expression). Flags in
    `suspect` each text with an `<ed>` before the first `<st>`, or a piece without `<ed>` or
    with a second one. `words` is `data` as 64-bit words. Returns how many boxes it wrote."""
    n = 0
    for t in range(len(offsets) - 1):
        start, end = offsets[t], offsets[t + 1]
        counted, chars = start, 0  # characters in data[start:counted]
        marks, st, ed = -1, -1, -1  # the marks so far, the last `<st>` and its first `<ed>`
        j = start
        while True:
            j = _next_lt(data, words, j, end)
            kind = _NO_TOKEN
            while j + 4 <= end:
                if data[j] == _LT and data[j + 3] == _GT:
                    if data[j + 1] == _S and data[j + 2] == _T:
                        kind = _ST
                        break
                    if data[j + 1] == _E and data[j + 2] == _D:
                        kind = _ED
                        break
                j = _next_lt(data, words, j + 1, end)
            if kind == _ED:
                if marks < 0 or ed >= 0:
                    suspect[t] = True  # before any mark, or a second `<ed>` after one
                else:
                    ed = j
                j += 4
                continue
            piece_end = j if kind == _ST else end  # the current piece ends here
            if marks >= 0:
                if ed < 0:
                    suspect[t] = True  # a mark never closed
                else:
                    chars += _characters(data, words, counted, st)
                    counted, at_mark = st, chars
                    b = _run_start(data, ed + 4, piece_end)
                    k = 0
                    while b >= 0:
                        chars += _characters(data, words, counted, b)
                        counted = b
                        c = _baai_box(data, b, piece_end, number_spans, values, read, n)
                        is_baai = c >= 0
                        if not is_baai:
                            c = _box_end(data, b, piece_end)
                            if c < 0:
                                break
                        turn[n], mark[n], box_index[n] = t, marks, k
                        phrase_start[n], phrase_end[n] = st + 4, ed
                        box_start[n], box_end[n] = b, c
                        mark_offset[n], box_offset[n] = at_mark, chars
                        baai[n] = is_baai
                        if is_baai:  # all ASCII: its bytes are its characters, not counted again
                            counted, chars = c, chars + c - b
                        n += 1
                        k += 1
                        # `, [` goes on to the next box (a `[` not closed ends the run before its `, `).
                        more = c + 2 < piece_end and data[c] == _COMMA and data[c + 1] == _SPACE
                        b = c + 2 if more and data[c + 2] == _LBRACKET else -1
            if kind == _NO_TOKEN:
                break
            marks, st, ed = marks + 1, j, -1
            j += 4
    return n


@compiled
def _next_lt(data, words, j, end):
    """The first `<` in data[j:end], or `end`: whole 8-byte words without one are skipped."""
    while j < end:
        if j & 7 == 0 and j + 8 <= end and not bytes_equal(words[j >> 3], _LT):
            j += 8
        elif data[j] == _LT:
            return j
        else:
            j += 1
    return end


@compiled
def _characters(data, words, start, end):
    """Characters (UTF-8 code points) in data[start:end]: the bytes that do not continue one
    (`10xxxxxx`), counted eight at a time in whole words."""
    continuing = 0
    j = start
    while j < end:
        if j & 7 == 0 and j + 8 <= end:
            x = words[j >> 3]
            continuing += popcount(x & ~(x << ONE) & HIGH)  # high bit set, the next bit clear
            j += 8
        else:
            continuing += np.int64((data[j] & 0xC0) == 0x80)
            j += 1
    return end - start - continuing


@compiled
def _run_start(data, at, end):
    """Where the first box of a run starts (`^ ?\\[`), or -1."""
    if at < end and data[at] == _SPACE:
        at += 1
    return at if at < end and data[at] == _LBRACKET else -1


@compiled
def _box_end(data, at, end):
    """After the box `[...]` starting at `at`: the end of its `]`, or -1 when a `[` or the
    end comes first."""
    for j in range(at + 1, end):
        if data[j] == _RBRACKET:
            return j + 1
        if data[j] == _LBRACKET:
            return -1
    return -1


@compiled
def _baai_box(data, start, end, spans, values, read, n):
    """When data[start:] begins with `[n, n, n, n]`, each n of digits and dots (the module's
    second expression; the `]` is then the first bracket after `[`, so this is the box):
    where it ends, and the four numbers' spans and values (`read` False: left to float()).
    Otherwise -1."""
    at = start + 1
    for i in range(4):
        first = at
        mantissa, digits, dots, decimals = 0, 0, 0, 0
        while at < end:
            byte = data[at]
            if byte == _DOT:
                dots += 1
            elif _ZERO <= byte <= _NINE:
                if digits < 16:  # more is float()'s to read (`_decimal`): the integer never overflows
                    mantissa = mantissa * 10 + np.int64(byte - _ZERO)
                digits += 1
                decimals += dots
            else:
                break
            at += 1
        if at == first or at >= end:
            return -1
        spans[n, 2 * i], spans[n, 2 * i + 1] = first, at
        values[n, i], read[n, i] = _decimal(mantissa, digits, dots, decimals)
        if i < 3:
            if at + 1 >= end or data[at] != _COMMA or data[at + 1] != _SPACE:
                return -1
            at += 2
    return at + 1 if data[at] == _RBRACKET else -1


# 10**0 .. 10**22: each exactly a double.
_POWERS_OF_TEN = np.array([10.0**k for k in range(23)])


@njit(inline="always")
def _decimal(mantissa, digits, dots, decimals):
    """The value of a number's digits (as one integer, `decimals` of them after its one dot)
    when it is exact to compute: at most 15 digits, so the integer and the power of ten are
    both exact doubles and one IEEE division rounds their quotient once, correctly, as
    float() does. Otherwise (False, also for no digits or two dots) float() reads it."""
    if dots > 1 or digits == 0 or digits > 15:
        return 0.0, False
    return mantissa / _POWERS_OF_TEN[decimals], True


def _spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A string array of data[starts[i]:ends[i]] (whole UTF-8 characters: the spans begin
    and end at ASCII bytes)."""
    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    out = np.empty(offsets[-1], np.uint8)
    _copy_spans(data, starts, ends, out)
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(
            pa.string(), len(starts), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out)]
        )
    # Past 32-bit offsets (only a phrase repeated for very many boxes could be): Arrow's cast says so.
    large = pa.Array.from_buffers(pa.large_string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(out)])
    return large.cast(pa.string())


@compiled
def _copy_spans(data, starts, ends, out):
    at = 0
    for i in range(len(starts)):
        for j in range(starts[i], ends[i]):
            out[at] = data[j]
            at += 1


def _mark_problems(ids: pa.Table, text: pa.Array, suspects: np.ndarray) -> pa.Table:
    """One row per turn whose marks are unusable, with the reason (as the SQL check words it):
    `ids` the turns' image_id, block and turn, `text` their text."""
    if not len(suspects):
        return MARK_PROBLEMS.empty_table()
    rows = ids.take(suspects)
    suspect_text = text.take(suspects)
    unpaired = pc.not_equal(pc.count_substring(suspect_text, "<st>"), pc.count_substring(suspect_text, "<ed>"))
    reason = pc.if_else(unpaired, ": <st> and <ed> do not pair up", ": unclosed <st>")
    # A stray `<ed>` with as many of each always leaves some `<st>` unclosed, so every suspect is a problem.
    return pa.table(
        [
            rows.column("image_id"),
            rows.column("block"),
            rows.column("turn"),
            pc.binary_join_element_wise("turn ", pc.cast(rows.column("turn"), pa.string()), reason, ""),
        ],
        schema=MARK_PROBLEMS,
    )
