"""Check, at any scale, that every derived LLaVA record equals BAAI's procedure on the same input.

    python bench/check_llava_exact.py --corpus DIR --warehouse DIR [--seed 0]

Reads data/<task>.json (one file at a time, with json.load: a few GB of memory at full
scale) and compares each record, in the published order, with llava_svit_<task> in
<warehouse>/svit.duckdb (built with the default vars). Prints counts per task and the
first differences; exits 1 if any record differs. Too slow for the test suite at full
scale; the tests run the same comparison on the bundled sample.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svit.core.baai_procedure import image_path, to_llava_record  # noqa: E402
from svit.core.facts import TASKS  # noqa: E402
from svit.core.referring import choose_instruction  # noqa: E402


def _items(corpus: Path, task: str) -> list[dict]:
    plain = corpus / "data" / f"{task}.json"
    if plain.exists():
        return json.loads(plain.read_bytes())
    with zipfile.ZipFile(corpus / "data" / f"{task}.zip") as zf:
        return json.loads(zf.read(f"{task}.json"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--seed", default="0")
    parser.add_argument("--show", type=int, default=3)
    args = parser.parse_args()
    images = {
        r["image_id"]: r
        for r in json.loads((args.corpus / "raw" / "annotations" / "vg" / "image_data.json").read_bytes())
    }
    con = duckdb.connect(str(args.warehouse / "svit.duckdb"), read_only=True)
    failures = 0
    for task in TASKS:
        started = time.perf_counter()
        cursor = con.execute(f"select id, image, conversations from llava_svit_{task} order by record_order")
        compared = differing = 0
        for item in _items(args.corpus, task):
            meta = images[item["image_id"]]
            folder = "VG_100K_2" if "/VG_100K_2/" in meta["url"] else "VG_100K"
            for block_index, block in enumerate(item["conversations"]):
                record_id = f"svit_{task}_{item['image_id']}_{block_index}"
                expected = to_llava_record(
                    task,
                    item["image_id"],
                    block_index,
                    block,
                    image_path(folder, item["image_id"]),
                    meta["width"],
                    meta["height"],
                    lambda _t, rid=record_id: choose_instruction(rid, args.seed),
                    record_id,
                )
                row = cursor.fetchone()
                got = (
                    None if row is None else {"id": row[0], "image": row[1], "conversations": [dict(t) for t in row[2]]}
                )
                compared += 1
                if got != expected:
                    differing += 1
                    if differing <= args.show:
                        print(f"  {task}: differs at {record_id}:\n    expected {expected}\n    derived  {got}")
        extra = len(cursor.fetchall())
        print(
            f"{task}: {compared:,} records compared, {differing:,} differ, {extra:,} derived records left over "
            f"({time.perf_counter() - started:.0f}s)"
        )
        failures += differing + extra
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
