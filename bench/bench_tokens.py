"""Time `svit tokens`: a first run, a rerun with nothing new, and the tokenizer library's own rate.

On a warehouse (`--warehouse WH`, e.g. the full-scale one of bench/run_bench.py, or one made here
from `svit sample --images N`), for one family and model (default llava-1.5, llava_svit_all):

- first run: `svit tokens` with no token table and an empty cache (record_tokens, token_cache and
  record_tokens_sources are dropped first: the warehouse is changed);
- rerun:     `svit tokens` again, nothing changed;
- library:   the tokenizer library's own batch encode (SentencePiece `encode(texts, num_threads)`,
             `tokenizers`' encode_batch, tiktoken's encode_batch) on a sample of the distinct pieces
             of text `svit tokens` counts, next to svit's counter (a fresh one) on the same sample.

Each `svit tokens` runs in its own process, its peak RSS taken from the kernel (wait4). Prints
seconds, peak RSS, tokens/s, and the two rates on the sample.

    python bench/bench_tokens.py --warehouse /path/to/wh [--family llava-1.5] [--model llava_svit_all]
    python bench/bench_tokens.py --images 2000 [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(command: list[str]) -> tuple[float, float, str]:
    """Run `command`; (seconds, its peak RSS in GiB, its stdout). Stops the bench if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not the largest child's
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{err.read()}")
        return seconds, usage.ru_maxrss / 2**20, out.read()  # ru_maxrss is in KiB on Linux


def sample_pieces(warehouse, family, model: str, size: int) -> list[str]:
    """The distinct pieces among `size` drawn at random from the pieces of text of `model`, laid out
    as `family` lays them out."""
    from svit.core.models_db import connect
    from svit.tokens.run import stage_pieces, stage_records

    con = connect(warehouse)
    try:
        stage_records(con, warehouse, [model])
        stage_pieces(con, family)
        rows = con.execute(
            "select distinct piece from (select piece from tok_piece_texts "
            f"using sample reservoir({size} rows) repeatable (7))"
        ).fetchall()
    finally:
        con.close()
    return [piece for (piece,) in rows]


def library_encode(counter, texts: list[str]) -> int:
    """The tokens of `texts` by the library under `counter`, its own batch call, as it comes."""
    from svit.tokens.tokenizer import threads

    if counter.kind == "sentencepiece":
        return sum(map(len, counter.processor.encode(texts, num_threads=threads())))
    if counter.kind == "tokenizers":
        return sum(len(e.ids) for e in counter.tokenizer.encode_batch(texts, add_special_tokens=False))
    return sum(map(len, counter.encoding.encode_batch(texts, num_threads=threads(), allowed_special="all")))


def make_warehouse(work: Path, images: int) -> Path:
    corpus, warehouse = work / "corpus", work / "warehouse"
    svit = [sys.executable, "-m", "svit.cli"]
    subprocess.run([*svit, "sample", "--out", str(corpus), "--images", str(images)], check=True, cwd=ROOT)
    llava = [a for f in sorted((corpus / "llava").glob("*.json")) for a in ("--llava", str(f))]
    run = [*svit, "ingest", str(corpus), *llava, "--warehouse", str(warehouse)]
    subprocess.run(run, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*svit, "--warehouse", str(warehouse), "build"], check=True, capture_output=True, cwd=ROOT)
    return warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="an existing warehouse (its token tables are dropped)")
    parser.add_argument("--images", type=int, default=2000, help="without --warehouse: Visual Genome images")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--family", default="llava-1.5")
    parser.add_argument("--model", default="llava_svit_all")
    parser.add_argument("--sample", type=int, default=200_000, help="distinct pieces for the library rate")
    args = parser.parse_args()
    work = None
    try:
        if args.warehouse is None:
            work = args.workdir or Path(tempfile.mkdtemp(prefix="svit-bench-tokens-"))
            work.mkdir(parents=True, exist_ok=True)
            args.warehouse = make_warehouse(work, args.images)
        from svit.core.models_db import RECORD_TOKENS, RECORD_TOKENS_SOURCES, TOKEN_CACHE, connect
        from svit.core.warehouse import Warehouse
        from svit.tokens.families import IMAGE_SLOT, family
        from svit.tokens.tokenizer import load_counter

        warehouse = Warehouse(args.warehouse)
        con = connect(warehouse, read_only=False)
        for table in (RECORD_TOKENS, RECORD_TOKENS_SOURCES, TOKEN_CACHE):
            con.execute(f"drop table if exists {table}")
        con.close()
        command = [sys.executable, "-m", "svit.cli", "--warehouse", str(args.warehouse), "tokens",
                   "--family", args.family, "--model", args.model]  # fmt: skip
        first_s, first_rss, first_out = timed(command)
        rerun_s, rerun_rss, rerun_out = timed(command)
        assert "unchanged since their last count" in rerun_out, rerun_out
        con = connect(warehouse)
        records, text_tokens = con.execute(
            f"select count(*), sum(text_tokens) from {RECORD_TOKENS} where model = ?", [args.model]
        ).fetchall()[0]
        con.close()
        print(first_out.strip())
        print(f"{'svit tokens':<28} {'seconds':>8} {'peak RSS':>10} {'text tokens/s':>14}")
        print(f"{'first run (empty cache)':<28} {first_s:>8.1f} {first_rss:>7.2f} GiB {text_tokens / first_s:>14,.0f}")
        print(f"{'rerun, nothing new':<28} {rerun_s:>8.1f} {rerun_rss:>7.2f} GiB")
        print(f"{records:,} records, {text_tokens:,} text tokens")

        fam = family(args.family)
        texts = sample_pieces(warehouse, fam, args.model, args.sample)
        counter = load_counter(fam.default_tokenizer, fam.specials, IMAGE_SLOT)
        started = time.perf_counter()
        library_tokens = library_encode(counter, texts)
        library_s = time.perf_counter() - started
        started = time.perf_counter()
        svit_tokens = sum(counter.count(texts))
        svit_s = time.perf_counter() - started
        print(f"sample: {len(texts):,} distinct pieces, {sum(map(len, texts)) / 2**20:,.0f} MiB, {counter.spec}")
        print(f"{'library batch encode':<28} {library_s:>8.1f} {library_tokens / library_s:>14,.0f} tokens/s")
        print(f"{'svit counter (fresh)':<28} {svit_s:>8.1f} {svit_tokens / svit_s:>14,.0f} tokens/s")
        print(f"svit over the library on the sample: {library_s / svit_s:.2f}x (token counts {svit_tokens:,} vs "
              f"{library_tokens:,}: the library encodes the specials as text)")  # fmt: skip
    finally:
        if work is not None and not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
