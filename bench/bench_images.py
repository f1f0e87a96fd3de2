"""Time `svit images` against a plain Pillow loop over the same files, in the same run.

A corpus of `svit sample --images N --with-images` (N Visual Genome images; its records name
about six image paths per VG image, so N = 3300 gives about 20,000 files) is ingested and
built, then:

- pillow:  one process, for each path: os.stat, Image.open, the size (what Qwen's
           check_image.py and most ad-hoc checks do);
- svit:    `svit images ROOT` into a table that does not exist yet (header, end marker,
           format by magic bytes, parallel processes);
- rerun:   `svit images ROOT` again, nothing changed (every path stat'ed, none read).

It prints seconds and files/s of each, svit's speed over the loop's and the rerun's time as a
share of the first scan's, twice: with the files fresh in the page cache for all three
("warm"), then, where this process may drop the page cache (root on Linux), with the cache
dropped before the loop and before the first scan ("cold": a first scan of images that come
from disk, and a rerun soon after it, as a user runs them).

    python bench/bench_images.py [--images 3300] [--workdir DIR] [--keep]
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


def pillow_loop(root: Path, paths: list[str]) -> int:
    from PIL import Image

    readable = 0
    for path in paths:
        full = root / path
        try:
            os.stat(full)
            with Image.open(full) as image:
                image.size  # noqa: B018 - the header is what is read
            readable += 1
        except Exception:  # noqa: BLE001 - the loop counts what opens, as ad-hoc checks do
            pass
    return readable


def drop_page_cache() -> bool:
    """Empty the kernel's page, dentry and inode caches; False where this process may not."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def first_scan(warehouse, images: Path, cold: bool):
    """`svit images` into a table that does not exist yet (and no state of a last scan)."""
    from svit.core.models_db import connect
    from svit.images import run_images
    from svit.images.run import STATE_FILE

    con = connect(warehouse, read_only=False)
    con.execute("drop table if exists image_files")
    con.close()
    (warehouse.root / "report" / STATE_FILE).unlink(missing_ok=True)
    if cold:
        drop_page_cache()
    return run_images(warehouse, images, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3300, help="Visual Genome images of the corpus")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="svit-bench-images-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus, warehouse_dir = work / "corpus", work / "warehouse"
    svit = [sys.executable, "-m", "svit.cli"]
    try:
        started = time.perf_counter()
        subprocess.run([*svit, "sample", "--out", str(corpus), "--images", str(args.images), "--with-images"],
                       check=True, capture_output=True, cwd=ROOT)  # fmt: skip
        llava = [a for f in sorted((corpus / "llava").glob("*.json")) for a in ("--llava", str(f))]
        subprocess.run([*svit, "ingest", str(corpus), *llava, "--warehouse", str(warehouse_dir)],
                       check=True, capture_output=True, cwd=ROOT)  # fmt: skip
        subprocess.run([*svit, "--warehouse", str(warehouse_dir), "build"], check=True, capture_output=True, cwd=ROOT)
        print(f"corpus and warehouse in {time.perf_counter() - started:.1f}s ({work})")

        from svit.core.models_db import connect
        from svit.core.warehouse import Warehouse
        from svit.images import run_images

        warehouse = Warehouse(warehouse_dir)
        images = corpus / "images"
        run_images(warehouse, images, progress=False)
        con = connect(warehouse)
        paths = [p for (p,) in con.execute("select path from image_files order by path").fetchall()]
        con.close()
        for cold in (False, True):
            if cold and not drop_page_cache():
                print("cold: skipped (the page cache can be dropped only as root)")
                break
            started = time.perf_counter()
            readable = pillow_loop(images, paths)
            loop_s = time.perf_counter() - started
            first = first_scan(warehouse, images, cold)
            rerun = run_images(warehouse, images, progress=False)
            assert first.paths == len(paths) == rerun.paths and rerun.read == 0
            rows = [("pillow loop", loop_s, len(paths)), ("svit images", first.seconds, first.read),
                    ("svit images, rerun", rerun.seconds, rerun.paths)]  # fmt: skip
            print(f"{'cold' if cold else 'warm':<20} {'seconds':>8} {'files':>8} {'files/s':>9}")
            for name, seconds, files in rows:
                print(f"{name:<20} {seconds:>8.2f} {files:>8,} {files / seconds:>9,.0f}")
            ratio = rerun.seconds / first.seconds
            print(f"svit over the loop: {loop_s / first.seconds:.2f}x; rerun / first scan: {ratio:.1%}")
        print(f"readable by the loop: {readable:,}; problems found by svit: {first.categories}")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
