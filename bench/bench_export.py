"""Time `svit export` against DuckDB's COPY ... (FORMAT json, ARRAY true) and Python's json.

Each method runs in its own process (seconds, peak RSS via os.wait4), on the same model of
the same warehouse, in the same run:

- svit:           `svit.export.export(..., fmt="llava")`, json.dump's layout (one line,
                  ", ", ": "), rendered by the Polars engine
- svit-sharegpt:  `svit.export.export(..., fmt="sharegpt")` to a .json file (LLaMA-Factory;
                  also writes dataset_info.json beside it)
- svit-internvl:  `svit.export.export(..., fmt="internvl")` to a .jsonl file (with the
                  images' width and height joined in; also writes internvl_meta.json)
- duckdb:         COPY (select id, image, conversations from MODEL order by record_order)
                  TO 'f.json' (FORMAT json, ARRAY true)
- json:           the records fetched in batches of 10,000 from DuckDB as Python dicts,
                  written with json.dumps one after the other (the bytes `json.dump(records,
                  f, ensure_ascii=False)` writes, without holding 3M dicts at once)

It prints the speedup of svit (llava) over duckdb and over json, and the time of the
sharegpt and internvl exports as a ratio of the llava one (what the other formats cost).

With --check, the svit (llava) file is compared with the json one by sha256 (they must be
the same bytes) and its record count is read back with DuckDB's JSON reader.

    python bench/bench_export.py --warehouse /tmp/wfull [--model llava_svit_all]
        [--methods svit,svit-sharegpt,svit-internvl,duckdb,json] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The format comes after the three arguments every method gets (warehouse, model, out).
SVIT = """
import sys
from pathlib import Path
from svit.export import export
from svit.core.warehouse import Warehouse
r = export(Warehouse(Path(sys.argv[1])), sys.argv[2], Path(sys.argv[3]), sys.argv[4], progress=False)
print(r.records)
"""

DUCKDB = """
import sys, duckdb
con = duckdb.connect(sys.argv[1] + "/svit.duckdb", read_only=True, config={"threads": 2})
con.execute("set enable_progress_bar = false")
con.execute(f"copy (select id, image, conversations from {sys.argv[2]} order by record_order) "
            f"to '{sys.argv[3]}' (format json, array true)")
print(con.execute(f"select count(*) from {sys.argv[2]}").fetchall()[0][0])
"""

STDLIB_JSON = """
import sys, json, duckdb
con = duckdb.connect(sys.argv[1] + "/svit.duckdb", read_only=True, config={"threads": 2})
con.execute("set enable_progress_bar = false")
cur = con.execute(f"select id, image, conversations from {sys.argv[2]} order by record_order")
n = 0
with open(sys.argv[3], "w", encoding="utf-8") as f:
    f.write("[")
    while rows := cur.fetchmany(10_000):
        for id_, image, conversations in rows:
            rec = {"id": id_, "image": image, "conversations": conversations} if image is not None else \\
                  {"id": id_, "conversations": conversations}
            f.write((", " if n else "") + json.dumps(rec, ensure_ascii=False))
            n += 1
    f.write("]")
print(n)
"""

# method -> (script, extra arguments, suffix of its output file)
METHODS = {
    "svit": (SVIT, ["llava"], ".json"),
    "svit-sharegpt": (SVIT, ["sharegpt"], ".json"),
    "svit-internvl": (SVIT, ["internvl"], ".jsonl"),
    "duckdb": (DUCKDB, [], ".json"),
    "json": (STDLIB_JSON, [], ".json"),
}
DEFAULT_METHODS = ",".join(METHODS)


def out_path(out_dir: Path, model: str, method: str) -> Path:
    return out_dir / f"{model}.{method}{METHODS[method][2]}"


def run(method: str, warehouse: Path, model: str, out: Path) -> dict:
    """One method in its own process: wall seconds, peak RSS (MiB), CPU seconds, output size."""
    os.sync()  # the previous method's 2.5 GB still being written back would slow this one down
    started = time.perf_counter()
    script, extra, _ = METHODS[method]
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(warehouse), model, str(out), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    records = (proc.stdout.read().decode().split() or ["0"])[-1]
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{method} failed (exit {os.waitstatus_to_exitcode(status)})")
    return {
        "method": method,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "records": int(records or 0),
        "bytes": out.stat().st_size,
    }


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--model", default="llava_svit_all")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated, of {DEFAULT_METHODS}")
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="where the outputs go (default: a temp folder, removed)"
    )
    parser.add_argument(
        "--check", action="store_true", help="svit output = json output (sha256), and readable by DuckDB"
    )
    parser.add_argument("--json", dest="json_out", type=Path, help="also write the results here")
    args = parser.parse_args()

    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {', '.join(unknown)}; of {DEFAULT_METHODS}")

    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="svit-bench-export-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    print(f"{'method':<14} {'seconds':>8} {'peak RSS MiB':>13} {'CPU s':>8} {'records':>10} {'MB':>9}", flush=True)
    for method in methods:
        r = run(method, args.warehouse.resolve(), args.model, out_path(out_dir, args.model, method))
        results.append(r)
        print(
            f"{method:<14} {r['seconds']:>8.2f} {r['peak_rss_mib']:>13.1f} {r['cpu_s']:>8.2f} "
            f"{r['records']:>10,} {r['bytes'] / 1e6:>9.1f}",
            flush=True,
        )
    by = {r["method"]: r for r in results}
    if "svit" in by:
        for other in ("duckdb", "json"):
            if other in by:
                print(f"svit speedup over {other}: {by[other]['seconds'] / by['svit']['seconds']:.2f}x")
        for other in ("svit-sharegpt", "svit-internvl"):
            if other in by:
                print(f"{other} time / svit (llava) time: {by[other]['seconds'] / by['svit']['seconds']:.2f}")
    if args.check and "svit" in by:
        svit_file = out_path(out_dir, args.model, "svit")
        if "json" in by:
            same = sha256(svit_file) == sha256(out_path(out_dir, args.model, "json"))
            print(f"svit file == json.dump file (sha256): {same}")
        import duckdb

        n = (
            duckdb.connect()
            .execute(
                f"select count(*) from read_json('{svit_file}', format = 'array', records = false, "
                "columns = {j: 'JSON'}, maximum_object_size = 1073741824)"
            )
            .fetchall()[0][0]
        )
        print(f"records read back by DuckDB: {n:,}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    if args.out_dir is None:
        for p in out_dir.iterdir():
            p.unlink()
        out_dir.rmdir()


if __name__ == "__main__":
    main()
