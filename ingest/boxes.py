"""The boxes of SVIT's referring turns: every `<st>phrase<ed> [x1, y1, x2, y2](, [..])*`.

Computed with Arrow kernels on each batch of turns as the scan writes them, so the turns are
not read back from Parquet and the work runs beside the JSON parsing of the other files.
Arrow's string kernels were chosen over the same query in DuckDB over the written turns,
which costs more and has to wait for the scans (see bench/README.md).

Offsets count characters, as Python's `str` indexes: `text[box_offset:][:len(box_text)]`
is the box. Numbers are read as Python's `float()` reads them, only from boxes written the
way BAAI's converter reads them (`_BAAI_BOX`); any other box keeps its text with NULL
numbers, and the check rejects its block.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.parquet_writer import ParquetSink
from svit.core.arrow_strings import string_bytes

_BOX = r"\[[^\]\[]*\]"  # one `[...]` box as written, whatever is inside
# The boxes right after a mark: an optional space, then boxes separated by ", ".
_RUN = r"^ ?(?P<run>" + _BOX + r"(?:, " + _BOX + r")*)"
# BAAI's converter touches exactly the boxes matching this (tools/expand_to_square.py).
_BAAI_BOX = r"^\[(?P<x1>[0-9.]+), (?P<y1>[0-9.]+), (?P<x2>[0-9.]+), (?P<y2>[0-9.]+)\]$"

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
    turns = turns.select(["image_id", "block", "turn", "text"]).combine_chunks()
    if turns.schema.field("text").type != pa.string():  # one batch fits in 32-bit string offsets
        turns = turns.set_column(3, "text", turns.column("text").cast(pa.string()))
    text = turns.column("text")
    turns = turns.filter(pc.or_(pc.match_substring(text, "<st>"), pc.match_substring(text, "<ed>")))
    text = turns.column("text").combine_chunks()

    # Pieces between the marks: piece 0 is before the first `<st>`, piece j starts after the j-th.
    pieces, turn_of_piece, pos = _flatten(pc.split_pattern(text, "<st>"))
    chars = pc.utf8_length(pieces).to_numpy().astype(np.int64) + 4  # a piece and the `<st>` after it
    piece_start = _start_in_list(chars, pos)
    marks = np.flatnonzero(pos >= 1)
    phrase_after = pc.split_pattern(pieces.take(marks), "<ed>", max_splits=1)
    closed = pc.list_value_length(phrase_after).to_numpy() == 2
    marks, unclosed = marks[closed], marks[~closed]
    if len(unclosed):
        phrase_after = phrase_after.filter(pa.array(closed))
    phrase = pc.list_element(phrase_after, 0)
    after = pc.list_element(phrase_after, 1)
    # Marks pair up unless a `<st>` has no `<ed>` or an `<ed>` has no `<st>` (one before the
    # first `<st>`, or a second one after a mark). With as many `<ed>` in all the text as
    # closed marks there is no stray one; otherwise (bad input) each piece is searched.
    stray_ed = np.zeros(0, np.int64)
    if _count_in_buffer(text, b"<ed>") != len(marks):
        stray_ed = np.r_[
            turn_of_piece[(pos == 0) & pc.match_substring(pieces, "<ed>").to_numpy(zero_copy_only=False)],
            turn_of_piece[marks[pc.match_substring(after, "<ed>").to_numpy(zero_copy_only=False)]],
        ]
    problems = _mark_problems(turns, text, turn_of_piece[unclosed], stray_ed)
    mark_offset = piece_start[marks] - 4
    run_offset = (
        mark_offset + 8 + pc.utf8_length(phrase).to_numpy() + pc.starts_with(after, " ").to_numpy(zero_copy_only=False)
    )
    run = pc.struct_field(pc.extract_regex(after, _RUN), 0)
    if run.null_count:  # a mark without boxes after it
        with_boxes = run.is_valid()
        marks, mark_offset, run_offset = (
            a[with_boxes.to_numpy(zero_copy_only=False)] for a in (marks, mark_offset, run_offset)
        )
        run, phrase = run.filter(with_boxes), phrase.filter(with_boxes)

    # Box contents hold no brackets, so `], [` is exactly where one box ends and the next begins.
    inner, mark_of_box, box_index = _flatten(pc.split_pattern(run, "], ["))
    per_mark = np.bincount(mark_of_box, minlength=len(run))
    first, last = box_index == 0, box_index == per_mark[mark_of_box] - 1
    box_text = pc.binary_join_element_wise(
        pc.if_else(pa.array(first), "", "["), inner, pc.if_else(pa.array(last), "", "]"), ""
    )
    box_chars = pc.utf8_length(box_text).to_numpy().astype(np.int64) + 2  # a box and the ", " after it
    box_offset = run_offset[mark_of_box] + _start_in_list(box_chars, box_index)
    numbers = pc.extract_regex(box_text, _BAAI_BOX)

    turn_of_box = turn_of_piece[marks][mark_of_box]
    boxes = pa.table(
        [
            turns.column("image_id").take(turn_of_box),
            turns.column("block").take(turn_of_box),
            turns.column("turn").take(turn_of_box),
            pa.array((pos[marks] - 1)[mark_of_box], pa.int32()),
            phrase.take(mark_of_box),
            pa.array(box_index, pa.int32()),
            *(_floats(pc.struct_field(numbers, i)) for i in range(4)),
            box_text,
            pa.array(mark_offset[mark_of_box], pa.int32()),
            pa.array(box_offset, pa.int32()),
        ],
        schema=SCHEMA,
    )
    return boxes, problems


def _flatten(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The items of `lists`, each item's list number and its index in that list."""
    offsets = lists.offsets.to_numpy()
    sizes = np.diff(offsets)
    owner = np.repeat(np.arange(len(lists)), sizes)
    index = np.arange(offsets[-1] - offsets[0]) - (offsets[:-1] - offsets[0])[owner]
    return lists.flatten(), owner, index


def _start_in_list(lengths: np.ndarray, index: np.ndarray) -> np.ndarray:
    """For items laid out one after the other within each list: where each item starts."""
    before = np.cumsum(lengths) - lengths  # counted over all lists
    return before - before[np.arange(len(lengths)) - index]  # minus where the item's list starts


def _count_in_buffer(text: pa.Array, needle: bytes) -> int:
    """How often `needle` occurs in the bytes of all strings of `text`, back to back (an
    occurrence across two strings counts too: the caller only relies on an upper bound)."""
    return string_bytes(text).tobytes().count(needle)


def _floats(text: pa.Array) -> pa.Array:
    """Numbers as Python's float() reads them; NULL where it would not (`1.2.3`)."""
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        return pa.array([_float(s) for s in text.to_pylist()], pa.float64())


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _mark_problems(turns: pa.Table, text: pa.Array, unclosed: np.ndarray, stray_ed: np.ndarray) -> pa.Table:
    """One row per turn whose marks are unusable, with the reason (as the SQL check words it)."""
    suspects = np.unique(np.r_[unclosed, stray_ed])
    if not len(suspects):
        return MARK_PROBLEMS.empty_table()
    rows = turns.take(suspects)
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
