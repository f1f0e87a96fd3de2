"""Check SVIT_mix_665K's records per image prefix against the published figures.

    python bench/check_mix_prefixes.py --warehouse DIR                # the published figures (full scale)
    python bench/check_mix_prefixes.py --warehouse DIR --images N     # as `svit sample --images N` scales them
    python bench/check_mix_prefixes.py --warehouse DIR --ground-truth CORPUS/GROUND_TRUTH.json

Counts the records of mix_svit_mix_665k in <warehouse>/svit.duckdb (after `svit build`, with
llava_v1_5_mix665k.json and llava_instruct_150k.json ingested) by the first folder of their
`image` (coco, vg, gqa, ocr_vqa, textvqa; `none` for text-only records, which have no
`image` key), prints them beside the expected figures and exits 1 on any difference.

The published figures (docs/formats.md, "The published recipes": coco 206,388; vg 244,129; gqa 72,140;
ocr_vqa 80,000; textvqa 21,953; none 40,688; 665,298 in all) follow from the parts of
llava_v1_5_mix665k (svit/core/facts.py) with the LLaVA-Instruct part (coco) replaced by
SVIT_core_150K (157,712 records on VG images). The generator makes each part
round(size * N / 108,077) records (at least 2) and a core of round(157,712 * N / 108,077),
so `svit sample --images 108077` reaches the published figures exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svit.core.facts import LLAVA_MIX665K_PARTS, SVIT_CORE_150K_RECORDS  # noqa: E402
from synth.llava_files import part_sizes  # noqa: E402
from synth.svit_llava import core_size  # noqa: E402

PREFIXES = ("coco", "vg", "gqa", "ocr_vqa", "textvqa", "none")


def _prefix(image_path: str | None) -> str:
    return image_path.split("/", 1)[0] if image_path else "none"


def expected_prefixes(images: int | None = None) -> dict[str, int]:
    """Records per image prefix of SVIT_mix_665K: published (images None), or at `images` as the generator scales it."""
    if images is None:
        core = SVIT_CORE_150K_RECORDS
        sizes = {part: count for part, count, _ in LLAVA_MIX665K_PARTS}
    else:
        core = core_size(images)
        sizes = part_sizes(images, core)
    counts = Counter({prefix: 0 for prefix in PREFIXES})
    for part, _, image_path in LLAVA_MIX665K_PARTS:
        if part != "llava_instruct":  # the part SVIT_core_150K replaces
            counts[_prefix(image_path)] += sizes[part]
    counts["vg"] += core  # SVIT's images are Visual Genome's
    return dict(counts)


def count_prefixes(warehouse: Path) -> dict[str, int]:
    """mix_svit_mix_665k's records per image prefix, from each record's `image` (absent: none)."""
    con = duckdb.connect(str(warehouse / "svit.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select case when has_image then split_part(image, '/', 1) else 'none' end, count(*) "
            "from mix_svit_mix_665k group by 1"
        ).fetchall()
    finally:
        con.close()
    counts = {prefix: 0 for prefix in PREFIXES}
    counts.update(dict(rows))
    return counts


def compare(expected: dict[str, int], counted: dict[str, int]) -> list[tuple[str, int, int]]:
    """(prefix, expected, counted) for every prefix either side has, expected ones first."""
    names = list(expected) + sorted(set(counted) - set(expected))
    return [(name, expected.get(name, 0), counted.get(name, 0)) for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--images", type=int, help="expect the figures `svit sample --images N` makes")
    which.add_argument("--ground-truth", type=Path, help="expect the counts a corpus's GROUND_TRUTH.json records")
    args = parser.parse_args(argv)

    if args.ground_truth:
        expected = dict(json.loads(args.ground_truth.read_text())["svit_mix_665k"]["records_per_image_prefix"])
        source = str(args.ground_truth)
    else:
        expected = expected_prefixes(args.images)
        source = f"scaled to {args.images:,} images" if args.images else "published (docs/formats.md)"
    start = time.perf_counter()
    try:
        counted = count_prefixes(args.warehouse)
    except duckdb.Error as exc:
        print(f"{args.warehouse / 'svit.duckdb'}: {str(exc).splitlines()[0]} (run `svit build` first)", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start

    rows = compare(expected, counted)
    print(f"mix_svit_mix_665k records per image prefix; expected: {source}")
    print(f"{'prefix':<10}{'expected':>12}{'counted':>12}{'diff':>10}")
    for name, want, got in rows:
        print(f"{name:<10}{want:>12,}{got:>12,}{got - want:>+10,}")
    total_want, total_got = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<10}{total_want:>12,}{total_got:>12,}{total_got - total_want:>+10,}")
    print(f"counted in {seconds:.2f}s")
    differ = [name for name, want, got in rows if want != got]
    if differ:
        print(f"DIFFERENT: {', '.join(differ)}", file=sys.stderr)
        return 1
    print("all prefixes equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
