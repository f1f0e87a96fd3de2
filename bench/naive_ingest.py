"""The naive baseline: SVIT's data/<task>.json into Parquet with json.load and Python loops.

What a person would write in an afternoon: stdlib `json` and `re`, plain loops, and
`pyarrow.parquet.ParquetWriter` (zstd), rows flushed in batches so only `json.load`
itself holds a whole file. No validation, no rejects, no image checks. It writes the
core outputs of `svit ingest` for the four task files:

    <out>/turns/<task>.parquet          task, image_id, block, turn, role, text
    <out>/conversations/<task>.parquet  task, image_id, block, n_turns, record_index, extra (JSON)
    <out>/boxes/<task>.parquet          task, image_id, block, turn, mark_index, phrase, box_index,
                                        x1, y1, x2, y2, box_text, mark_offset, box_offset

and prints its counts as one JSON line (`COUNTS {...}`), also saved as <out>/counts.json.

    python bench/naive_ingest.py CORPUS_DIR --out DIR [--batch-rows 100000]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")

SCHEMAS = {
    "turns": pa.schema(
        [
            ("task", pa.string()),
            ("image_id", pa.int64()),
            ("block", pa.int32()),
            ("turn", pa.int32()),
            ("role", pa.string()),
            ("text", pa.string()),
        ]
    ),
    "conversations": pa.schema(
        [
            ("task", pa.string()),
            ("image_id", pa.int64()),
            ("block", pa.int32()),
            ("n_turns", pa.int32()),
            ("record_index", pa.int64()),
            ("extra", pa.string()),
        ]
    ),
    "boxes": pa.schema(
        [
            ("task", pa.string()),
            ("image_id", pa.int64()),
            ("block", pa.int32()),
            ("turn", pa.int32()),
            ("mark_index", pa.int32()),
            ("phrase", pa.string()),
            ("box_index", pa.int32()),
            ("x1", pa.float64()),
            ("y1", pa.float64()),
            ("x2", pa.float64()),
            ("y2", pa.float64()),
            ("box_text", pa.string()),
            ("mark_offset", pa.int32()),
            ("box_offset", pa.int32()),
        ]
    ),
}

# `<st>phrase<ed> [x1, y1, x2, y2], [...]`: a mark, then optionally a space and a run of boxes.
MARK = re.compile(r"<st>(.*?)<ed>", re.S)
BOX_RUN = re.compile(r" ?(\[[^\[\]]*\](?:, \[[^\[\]]*\])*)")
BOX = re.compile(r"\[[^\[\]]*\]")
# Roles as the warehouse stores them (docs/warehouse.md, "Roles"): SVIT's `user` is `human`.
ROLES = {"user": "human"}


class BatchedWriter:
    """One Parquet file; rows collected as column lists and written every `batch_rows` rows."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.batch_rows = batch_rows
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.columns: list[list] = [[] for _ in schema.names]
        self.pending = 0
        self.rows = 0

    def add(self, *row) -> None:
        for column, value in zip(self.columns, row, strict=True):
            column.append(value)
        self.pending += 1
        if self.pending >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.writer.write_table(
                pa.Table.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(self.columns, self.schema, strict=True)],
                    schema=self.schema,
                )
            )
            self.rows += self.pending
            self.columns = [[] for _ in self.schema.names]
            self.pending = 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


def load(data_dir: Path, task: str):
    """data/<task>.json, or the member of data/<task>.zip; None when neither is there."""
    path = data_dir / f"{task}.json"
    if path.is_file():
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    path = data_dir / f"{task}.zip"
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            member = next(n for n in zf.namelist() if n.endswith(f"{task}.json"))
            with zf.open(member) as fh:
                return json.load(fh)
    return None


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parse_box(box_text: str):
    try:
        values = [float(v) for v in box_text[1:-1].split(",")]
    except ValueError:
        return None, None, None, None
    return tuple(values) if len(values) == 4 else (None, None, None, None)


def add_boxes(boxes: BatchedWriter, task: str, image_id: int, block: int, turn: int, text: str) -> None:
    for mark_index, mark in enumerate(MARK.finditer(text)):
        run = BOX_RUN.match(text, mark.end())
        if run is None:
            continue
        for box_index, box in enumerate(BOX.finditer(text, run.start(1), run.end(1))):
            box_text = box.group()
            boxes.add(
                task,
                image_id,
                block,
                turn,
                mark_index,
                mark.group(1),
                box_index,
                *parse_box(box_text),
                box_text,
                mark.start(),
                box.start(),
            )


def ingest_task(data: list, task: str, out: Path, batch_rows: int) -> dict:
    turns = BatchedWriter(out / "turns" / f"{task}.parquet", SCHEMAS["turns"], batch_rows)
    convs = BatchedWriter(out / "conversations" / f"{task}.parquet", SCHEMAS["conversations"], batch_rows)
    boxes = (
        BatchedWriter(out / "boxes" / f"{task}.parquet", SCHEMAS["boxes"], batch_rows)
        if task == "referring_qa"
        else None
    )
    for record_index, item in enumerate(data):
        image_id = item["image_id"]
        for block, conv in enumerate(item["conversations"]):
            content = conv["content"]
            extra = {k: v for k, v in conv.items() if k != "content"}
            convs.add(task, image_id, block, len(content), record_index, compact(extra) if extra else None)
            for turn, t in enumerate(content):
                text = t["value"]
                turns.add(task, image_id, block, turn, ROLES.get(t["from"], t["from"]), text)
                if boxes is not None and "<st>" in text:
                    add_boxes(boxes, task, image_id, block, turn, text)
    counts = {"records": len(data)}
    for name, writer in (("blocks", convs), ("turns", turns), ("boxes", boxes)):
        if writer is not None:
            writer.close()
            counts[name] = writer.rows
        else:
            counts[name] = 0
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a download folder holding data/<task>.json (or .zip)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--batch-rows", type=int, default=100_000)
    args = parser.parse_args(argv)

    per_task = {}
    started = time.perf_counter()
    for task in TASKS:
        t0 = time.perf_counter()
        data = load(args.corpus / "data", task)
        if data is None:
            continue
        loaded = time.perf_counter() - t0
        per_task[task] = ingest_task(data, task, args.out, args.batch_rows)
        del data
        per_task[task]["seconds_json_load"] = round(loaded, 3)
        per_task[task]["seconds"] = round(time.perf_counter() - t0, 3)
        print(f"  naive {task}: {per_task[task]}", file=sys.stderr, flush=True)
    if not per_task:
        print(f"naive_ingest: no data/<task>.json or .zip under {args.corpus}", file=sys.stderr)
        return 1
    counts = {
        "blocks_per_task": {t: c["blocks"] for t, c in per_task.items()},
        "turns_per_task": {t: c["turns"] for t, c in per_task.items()},
        "boxes_total": sum(c["boxes"] for c in per_task.values()),
        "per_task": per_task,
        "seconds": round(time.perf_counter() - started, 3),
    }
    (args.out / "counts.json").write_text(json.dumps(counts, indent=2))
    print("COUNTS " + json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
