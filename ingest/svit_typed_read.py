"""What makes the typed read of an SVIT file safe to keep: the extra block keys to ask it
for, the proof from the file's punctuation that it dropped no key and coerced no value
(ingest/json_punctuation.py), and its rows put in the shape the JSON read gives them.

The SQL of the read itself is in ingest/svit_scan_sql.py; ingest/svit_original.py runs it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from ingest.json_punctuation import Punctuation, key_names, text_punctuation
from ingest.sources import InputFile


class NotProven(Exception):
    """The typed read may have dropped a key or coerced a value: read the file as JSON text."""


_KNOWN_KEYS = {"image_id", "conversations", "content", "from", "value"}


def extra_key_hint(item: InputFile, sample_bytes: int) -> list[str]:
    """Key names in the first `sample_bytes` of the file other than SVIT's own, first seen first.

    A key first seen later still shows in the punctuation proof, and the file is then read
    as JSON text.
    """
    try:
        if item.member is None:
            with open(item.path, "rb") as fh:
                head = fh.read(sample_bytes)
        else:
            with zipfile.ZipFile(item.path) as zf, zf.open(item.member) as member:
                head = member.read(sample_bytes)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError):
        return []  # a damaged file: the scan itself reports it, naming the file

    names: dict[str, str] = {}
    for name in key_names(head):
        # DuckDB's struct fields are case-insensitive: two such names cannot both be fields.
        if name.lower() not in {k.lower() for k in _KNOWN_KEYS}:
            names.setdefault(name.lower(), name)
    counts = Counter(name.lower() for name in names.values())
    return [name for name in names.values() if counts[name.lower()] == 1][:32]


class TypedTally:
    """What the typed read saw: blocks, turns, and the punctuation inside their strings."""

    def __init__(self) -> None:
        self.blocks = self.turns = 0
        self.inside = Punctuation()

    def add(self, batch: pa.RecordBatch) -> None:
        self.blocks += len(batch) - batch.column("n_turns").null_count
        self.turns += len(batch) - batch.column("turn").null_count
        # `role` holds `human` where the file says `user` (ingest/svit_scan_sql.py): neither
        # has a quote or a colon, so its punctuation is still the file's.
        for column in ("role", "text", "extra"):
            self.inside += text_punctuation(batch.column(column))

    def prove(self, raw: Punctuation, records: int) -> None:
        # Each record has image_id and conversations, each block content, each turn from and
        # value; extra block keys are inside `extra`'s text with their own colons and quotes.
        keys = 2 * records + self.blocks + 2 * self.turns
        expected = Punctuation(2 * keys + 2 * (2 * self.turns) + self.inside.quotes, keys + self.inside.colons)
        if raw.hiding_escapes or (raw.quotes, raw.colons) != (expected.quotes, expected.colons):
            raise NotProven(f"punctuation {raw} against {expected}")


def typed_rest(batch: pa.RecordBatch) -> pa.Table:
    """The typed scan's rows in the shape of `json_scan_sql`'s: one row per block or rejected
    item (no turn), plus the turns with a problem."""
    batch = batch.drop_columns(["role", "text"])  # not copied by the filters below
    turn, problem, rejected_item, block = (batch.column(c) for c in ("turn", "problem", "item_rejected", "block"))
    no_int = pa.scalar(None, pa.int32())
    # An item rejected whole keeps one row, without a block, as `json_scan_sql` gives it.
    is_block = pc.and_(pc.is_valid(batch.column("n_turns")), pc.or_(pc.invert(rejected_item), pc.equal(block, 0)))
    blocks = batch.filter(is_block)
    b_rejected, b_turn = blocks.column("item_rejected"), blocks.column("turn")
    block_rows = pa.table(
        {
            "task": blocks.column("task"),
            "record_index": blocks.column("record_index"),
            "image_id": blocks.column("image_id"),
            "block": pc.if_else(b_rejected, no_int, blocks.column("block")),
            "turn": pa.nulls(len(blocks), pa.int32()),
            # A turn's problem stays on the turn's row; the block takes it in reject_whole_blocks
            # (ingest/svit_block_checks.py).
            "problem": pc.if_else(
                pc.and_(pc.is_valid(b_turn), pc.invert(b_rejected)),
                pa.scalar(None, pa.string()),
                blocks.column("problem"),
            ),
            "n_turns": pc.if_else(b_rejected, pa.scalar(0, pa.int32()), blocks.column("n_turns")),
            "extra": pc.if_else(b_rejected, pa.scalar(None, pa.string()), blocks.column("extra")),
            "raw": pa.nulls(len(blocks), pa.string()),
        }
    )
    bad = batch.filter(pc.and_(pc.and_(pc.is_valid(turn), pc.is_valid(problem)), pc.invert(rejected_item)))
    turn_rows = pa.table(
        {
            "task": bad.column("task"),
            "record_index": bad.column("record_index"),
            "image_id": bad.column("image_id"),
            "block": bad.column("block"),
            "turn": bad.column("turn"),
            "problem": bad.column("problem"),
            "n_turns": pa.nulls(len(bad), pa.int32()),
            "extra": pa.nulls(len(bad), pa.string()),
            "raw": pa.nulls(len(bad), pa.string()),
        }
    )
    return pa.concat_tables([block_rows, turn_rows])
