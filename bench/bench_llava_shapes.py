"""Time `svit ingest --llava` on one LLaVA file and on the same records in the other shapes
it reads, in the same run: the LLaVA JSON array (DuckDB alone), the same records as JSON
lines, as LLaMA-Factory ShareGPT lines (`images` lists, no id) and as TRL lines (content
parts), the last two mapped record by record with Python's json (ingest/llava_shapes.py).

    python bench/bench_llava_shapes.py FILE [--workdir DIR]

FILE: a LLaVA-1.5 file, e.g. the full-scale llava_instruct_150k.json of `svit sample`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def as_sharegpt(record: dict) -> dict:
    return {"conversations": record["conversations"], "images": [record["image"]] if "image" in record else []}


def as_trl(record: dict) -> dict:
    from svit.export.formats.base import content_parts

    roles = {"human": "user", "gpt": "assistant"}
    messages = [{"role": roles[t["from"]], "content": content_parts(t["value"])} for t in record["conversations"]]
    return {"images": [record["image"]] if "image" in record else [], "messages": messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="a LLaVA-1.5 JSON array")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from ingest.pipeline import run_ingest
    from svit.core.warehouse import Warehouse

    work = args.workdir or Path(tempfile.mkdtemp(prefix="svit-bench-shapes-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        records = json.loads(args.file.read_text(encoding="utf-8"))
        files = {"llava array": args.file}
        for name, shape in (("llava lines", None), ("sharegpt lines", as_sharegpt), ("trl lines", as_trl)):
            path = work / f"{name.replace(' ', '_')}.jsonl"
            with path.open("w", encoding="utf-8") as f:
                for record in records:
                    f.write(json.dumps(shape(record) if shape else record, ensure_ascii=False) + "\n")
            files[name] = path
        empty = work / "empty"
        empty.mkdir(exist_ok=True)
        print(f"{'shape':<16} {'MB':>8} {'seconds':>8} {'records/s':>10} {'rejected':>9}")
        first = None
        for name, path in files.items():
            warehouse = Warehouse(work / f"wh_{name.replace(' ', '_')}")
            started = time.perf_counter()
            report = run_ingest(empty, (path,), warehouse, progress=False)
            seconds = time.perf_counter() - started
            [item] = report.files
            first = first or seconds
            print(
                f"{name:<16} {path.stat().st_size / 1e6:>8,.1f} {seconds:>8.2f} "
                f"{item.records_read / seconds:>10,.0f} {item.records_rejected:>9,}  ({seconds / first:.2f}x the array)"
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
