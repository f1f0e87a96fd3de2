"""`parquet`: a folder of Hugging Face-style shards (`train-00000-of-00003.parquet`, ...) with a
dataset card, which `datasets.load_dataset("parquet", data_dir=...)` or the Hub reads.

One row per record, in the model's order: `id` (text; `id_is_int` says where the source
had an integer id, which one Arrow column cannot hold beside strings), `image` (null for a
text-only record), `conversations` (`from`, `value`), `extra` (the record's other keys as
a JSON object, or null). Shards of about 500 MB of text, zstd-compressed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from svit.export.formats.base import Format, plain_turns

SHARD_TEXT_BYTES = 500_000_000
ROW_GROUP_TEXT_BYTES = 200_000_000
SHARD_NAME = re.compile(r"^train-\d{5}-of-\d{5}\.parquet$")
CARD = "README.md"
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("id_is_int", pa.bool_()),
        ("image", pa.string()),
        ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
        ("extra", pa.string()),
    ]
)

DATASET_CARD = """\
---
configs:
- config_name: default
  data_files:
  - split: train
    path: "train-*.parquet"
dataset_info:
  features:
  - name: id
    dtype: string
  - name: id_is_int
    dtype: bool
  - name: image
    dtype: string
  - name: conversations
    list:
    - name: from
      dtype: string
    - name: value
      dtype: string
  - name: extra
    dtype: string
  splits:
  - name: train
    num_bytes: {num_bytes}
    num_examples: {num_examples}
  download_size: {download_size}
  dataset_size: {num_bytes}
---

# {model}

Exported by `svit export {model} --format parquet` from svit-warehouse: one row per LLaVA
record, in the model's order.

- `id`: the record id as text; `id_is_int` is true where the source JSON had an integer id
  (LLaVA-1.5's mix has both, which Arrow cannot hold in one column).
- `image`: the image path, null for a text-only record (LLaVA: leave out the `image` key).
- `conversations`: the turns, `from` (`human` / `gpt`) and `value`.
- `extra`: the record's other keys as a JSON object (e.g. `{{"model": ""}}`), or null.
"""


class Parquet(Format):
    name = "parquet"
    summary = "a folder of Parquet shards with a dataset card (datasets.load_dataset)"
    options = frozenset()


def is_export(folder: Path) -> bool:
    """Whether `folder` holds only what a parquet export writes (so it may be replaced)."""
    return all(p.name == CARD or SHARD_NAME.match(p.name) for p in folder.iterdir())


def rows(frame: pl.DataFrame) -> pl.DataFrame:
    """A batch of records as the shards' rows."""
    return frame.select(
        "id",
        (~pl.col("id_json").str.starts_with('"')).alias("id_is_int"),
        pl.when(pl.col("has_image")).then(pl.col("image")).alias("image"),
        plain_turns().alias("conversations"),
        "extra",
    )


def text_bytes(frame: pl.DataFrame) -> int:
    """About how many bytes of text the rows hold (what shard and row-group sizes go by)."""
    values = frame.select(
        pl.col("conversations").list.eval(pl.element().struct.field("value").str.len_bytes()).list.sum()
    )
    strings = frame.select(pl.sum_horizontal(pl.col("id", "image", "extra").str.len_bytes().fill_null(0)))
    return int(values.to_series().sum() or 0) + int(strings.to_series().sum() or 0)


def write_shards(batches: Iterator[pl.DataFrame], folder: Path, model: str) -> tuple[int, int]:
    """Write the rows as shards and the card into `folder`; returns (records, bytes of the shards)."""
    shards: list[Path] = []
    pending: list[pl.DataFrame] = []
    pending_bytes = records = text_total = 0

    def flush() -> None:
        nonlocal pending, pending_bytes
        frame = pl.concat(pending) if len(pending) > 1 else pending[0]
        per_row = max(pending_bytes / max(frame.height, 1), 1)
        path = folder / f"shard-{len(shards)}.parquet"
        # Written with Arrow's plain (32-bit offset) types, as `datasets` writes its own shards.
        table = frame.to_arrow().cast(SCHEMA)
        pq.write_table(table, path, compression="zstd", row_group_size=max(1_000, int(ROW_GROUP_TEXT_BYTES // per_row)))
        shards.append(path)
        pending, pending_bytes = [], 0

    for batch in batches:
        frame = rows(batch)
        size = text_bytes(frame)
        pending.append(frame)
        pending_bytes += size
        records += frame.height
        text_total += size
        if pending_bytes >= SHARD_TEXT_BYTES:
            flush()
    if pending or not shards:
        if not pending:  # no records: one empty shard that still has the schema
            pending = [rows(_empty())]
        flush()
    for i, shard in enumerate(shards):
        shard.rename(folder / f"train-{i:05d}-of-{len(shards):05d}.parquet")
    size = sum(p.stat().st_size for p in folder.glob("train-*.parquet"))
    (folder / CARD).write_text(
        DATASET_CARD.format(model=model, num_examples=records, num_bytes=text_total, download_size=size)
    )
    return records, size


def _empty() -> pl.DataFrame:
    turn = pl.Struct({"from": pl.String, "value": pl.String})
    schema = {"id": pl.String, "id_json": pl.String, "has_image": pl.Boolean, "image": pl.String}
    return pl.DataFrame(schema={**schema, "extra": pl.String, "conversations": pl.List(turn)})
