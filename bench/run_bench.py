"""Benchmark the pipeline stages against a naive json.load baseline (see bench/README.md).

Each stage runs as its own child process, reaped with os.wait4, so its wall time, CPU
time and peak RSS are that child's alone. Stages:

    sample      svit sample (only when this run generates the corpus)
    ingest      svit ingest on data/<task>.json|zip + raw/annotations/vg/image_data.json
                (a staging folder of symlinks): every SVIT table, boxes included
    ingest-all  svit ingest on the whole download + --llava llava/*.json   (--with-llava)
    naive       bench/naive_ingest.py on the same data/<task> files
    build, export, stats
                timed when the svit subcommand exits 0; "not built yet" is shown as skipped
    mix-first, mix
                svit mix recipes/core_like.yml after the build (the first mix finds the facts
                it keeps between mixes), then the same recipe with another seed: a recipe
                change (--with-llava: the recipe compares with the official core set)

    python bench/run_bench.py --images 2000 [--seed 0] [--corpus DIR] [--workdir DIR]
                              [--with-llava] [--skip-naive] [--keep] [--results FILE]
                              [--keep-cache] [--repeat N]

With --repeat N, ingest, the naive baseline, build, mix, export and stats each run N times
(each from a settled cache; ingest and naive in turn, side by side; mix with seeds 1..N, a
recipe change each time): a stage's row is its median run (seconds and CPU), with the peak
RSS the highest of the N and the spread of times in its note; the speedup is the ratio of
the medians, each run's pair shown beside it. ingest-all and mix-first run once (mix-first:
the first mix after the last build).

Run as root, the page cache is dropped before each stage and the program and the stage's
inputs read back in, so no stage's time depends on what the stages before it left in memory;
otherwise (or with --keep-cache) every input is read once at the start.

Scaling mode: the same stages (no naive baseline) on corpora of --images times each factor,
one corpus on disk at a time, then each stage's time and peak RSS against scale:

    python bench/run_bench.py --images 108077 --scales 0.25,1,4 --workdir /big/disk/bench
    python bench/run_bench.py --images 108077 --scales 0.25,1,4 --corpora 1=DIR1,4=DIR4 --with-llava
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TASKS = ("conversation", "complex_reasoning", "detail_description", "referring_qa")
NOT_BUILT = "not built yet"
# Folders this script makes inside the workdir; removed at the start so every run is fresh.
OWNED = ("corpus", "ingest-src", "wh-ingest", "wh-all", "naive-out", "export", "report", "logs")


@dataclass
class Stage:
    name: str
    status: str = "ok"  # ok | skipped | failed
    seconds: float | None = None
    cpu_seconds: float | None = None
    input_bytes: int | None = None
    peak_rss_mib: float | None = None
    returncode: int | None = None
    note: str = ""
    command: list[str] = field(default_factory=list)
    runs: list[float] = field(default_factory=list)  # every run's seconds, with --repeat

    @property
    def mb_per_s(self) -> float | None:
        if self.status != "ok" or not self.input_bytes or not self.seconds:
            return None
        return self.input_bytes / 1e6 / self.seconds


def svit_exe() -> str:
    """The svit next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "svit"
    if beside.is_file():
        return str(beside)
    found = shutil.which("svit")
    if not found:
        sys.exit("run_bench: no `svit` executable next to this python or on PATH; pip install -e . first")
    return found


def run_child(name: str, cmd: list[str], logs: Path, input_bytes: int | None = None) -> Stage:
    """Run one stage as a child; stdout/stderr go to logs/<name>.out|.err; wait4 gives its rusage."""
    logs.mkdir(parents=True, exist_ok=True)
    print(f"  running {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here; tell Popen so it does not wait again
    stage = Stage(
        name,
        seconds=round(seconds, 3),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        input_bytes=input_bytes,
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is KiB on Linux
        returncode=code,
        command=cmd,
    )
    if code != 0:
        err_text = (logs / f"{name}.err").read_text(errors="replace")
        lines = [line.strip() for line in err_text.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {code}"
        if code == 1 and NOT_BUILT in err_text:
            reason = next((line for line in lines if NOT_BUILT in line), last)
            stage.status, stage.note = "skipped", reason.removeprefix("svit: ")
        else:
            stage.status, stage.note = "failed", f"exit {code}: {last[:160]}"
        stage.seconds = stage.cpu_seconds = stage.peak_rss_mib = stage.input_bytes = None
    return stage


def median_run(runs: list[Stage]) -> Stage:
    """One stage run several times: the run of median time (the lower of the two middle ones
    for an even count), with the highest peak RSS of all and every run's seconds; a failed or
    skipped run is the result."""
    bad = next((r for r in runs if r.status != "ok"), None)
    if bad is not None or len(runs) == 1:
        return bad or runs[0]
    ordered = sorted(runs, key=lambda r: r.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    middle.runs = [r.seconds for r in runs]
    middle.peak_rss_mib = max(r.peak_rss_mib for r in runs)
    return middle


def spread_note(stage: Stage) -> str:
    """`median of N (lo-hi s)` for a stage run several times, else nothing."""
    if len(stage.runs) < 2:
        return ""
    return f"; median of {len(stage.runs)} ({min(stage.runs):.2f}-{max(stage.runs):.2f} s), peak of all"


def json_size(path: Path) -> int:
    """Bytes of JSON text: the file, or the uncompressed members of a zip."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist() if i.filename.endswith(".json"))
    return path.stat().st_size


def svit_data_files(corpus: Path) -> list[Path]:
    """The SVIT files ingest reads: data/<task>.json (or .zip), else data/svit.json (or .zip)."""
    data = corpus / "data"
    found = []
    for task in TASKS:
        for candidate in (data / f"{task}.json", data / f"{task}.zip"):
            if candidate.is_file():
                found.append(candidate)
                break
    if not found:
        found = [c for c in (data / "svit.json", data / "svit.zip") if c.is_file()][:1]
    return found


def all_input_files(corpus: Path) -> tuple[list[Path], list[Path]]:
    """(files read from the download folder, extra --llava files) for ingest-all."""
    files = svit_data_files(corpus)
    files += sorted((corpus / "format" / "llava-v1.5").glob("*.json"))
    vg = corpus / "raw" / "annotations" / "vg"
    files += [vg / n for n in ("image_data.json", "objects.json", "region_descriptions.json") if (vg / n).is_file()]
    files += sorted((corpus / "raw" / "annotations" / "coco").glob("captions_*.json"))
    return files, sorted((corpus / "llava").glob("*.json"))


def make_ingest_staging(corpus: Path, staging: Path) -> list[Path]:
    """A download folder of symlinks: the SVIT data files and VG image_data.json only."""
    data_files = svit_data_files(corpus)
    if not data_files:
        sys.exit(f"run_bench: no data/<task>.json or .zip in {corpus}")
    (staging / "data").mkdir(parents=True)
    linked = []
    for f in data_files:
        (staging / "data" / f.name).symlink_to(f.resolve())
        linked.append(f)
    image_data = corpus / "raw" / "annotations" / "vg" / "image_data.json"
    if image_data.is_file():
        (staging / "raw" / "annotations" / "vg").mkdir(parents=True)
        (staging / "raw" / "annotations" / "vg" / "image_data.json").symlink_to(image_data.resolve())
        linked.append(image_data)
    return linked


def warm_cache(files: list[Path]) -> float:
    """Read the inputs once so no stage pays the cold-cache read for the others."""
    started = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    return time.perf_counter() - started


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def can_drop_cache() -> bool:
    return os.access(DROP_CACHES, os.W_OK)


def program_files() -> list[Path]:
    """What every stage runs from: the virtualenv, Python's standard library and this checkout
    (the code and the dbt project; not its hidden folders, such as .git and a .venv inside
    it, nor what runs write into it)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    written = {"results", "warehouse", "report", "target", "logs"}
    roots = [(Path(sys.prefix), set()), (stdlib, {"site-packages"}), (REPO, written)]
    files = []
    for root, skipped in roots:
        for dirpath, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in skipped and not (root == REPO and d.startswith("."))]
            files += [Path(dirpath) / n for n in names if (Path(dirpath) / n).is_file()]
    return files


def settle_cache(files: list[Path]) -> float:
    """Before a stage: the page cache dropped, then the program and the stage's own inputs
    read back in, so it starts from the same cache whatever ran before it. Left full of what
    earlier stages read and wrote (the corpus's JSON, the warehouses), the cache made a stage
    slower on this kind of VM: the kernel spent more time handing it fresh memory
    (bench/README.md, "The page cache before each stage")."""
    os.sync()
    DROP_CACHES.write_text("3\n")
    return warm_cache(program_files() + files)


def tree_files(root: Path) -> list[Path]:
    """The files a warehouse holds (its table symlinks not followed: the snapshots are walked)."""
    return [
        Path(dirpath) / n
        for dirpath, _, names in os.walk(root)
        for n in names
        if (Path(dirpath) / n).is_file() and not (Path(dirpath) / n).is_symlink()
    ]


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(root):  # does not follow the table symlinks
        for n in names:
            p = Path(dirpath) / n
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def warehouse_counts(warehouse: Path) -> dict | None:
    """blocks/turns per task and boxes from the warehouse's Parquet tables."""
    import duckdb

    con = duckdb.connect()

    def per_task(table: str) -> dict[str, int]:
        if not any((warehouse / table).glob("**/*.parquet")):
            return {}
        rows = con.execute(
            f"select task, count(*) from read_parquet('{warehouse / table}/**/*.parquet', hive_partitioning = true, "
            "union_by_name = true) where task is not null group by task"
        ).fetchall()
        return {t: n for t, n in sorted(rows, key=lambda r: TASKS.index(r[0]) if r[0] in TASKS else 99)}

    try:
        boxes = per_task("boxes")
        return {
            "blocks_per_task": per_task("conversations"),
            "turns_per_task": per_task("turns"),
            "boxes_total": sum(boxes.values()),
        }
    except Exception as exc:  # the warehouse layout is another module's business; report, do not crash
        print(f"  could not count the warehouse tables: {exc}", file=sys.stderr)
        return None


def machine_facts() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:
        duck = None
    try:
        import pyarrow

        arrow = pyarrow.__version__
    except ImportError:
        arrow = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": ram,
        "python": platform.python_version(),
        "duckdb": duck,
        "pyarrow": arrow,
        "platform": platform.platform(),
    }


def fmt(value, spec: str) -> str:
    """`value` formatted by `spec`; a missing value is `-`, padded to the spec's width."""
    if value is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return "-".rjust(int(width or 0))
    return format(value, spec)


def print_table(stages: list[Stage]) -> None:
    header = f"{'stage':<11} {'seconds':>9} {'input MB':>10} {'MB/s':>8} {'peak RSS MiB':>13} {'CPU s':>9}  note"
    print(header)
    print("-" * len(header))
    for s in stages:
        print(
            f"{s.name:<11} {fmt(s.seconds, '9.2f')} {fmt(s.input_bytes and s.input_bytes / 1e6, '10.1f')} "
            f"{fmt(s.mb_per_s, '8.1f')} {fmt(s.peak_rss_mib, '13.1f')} {fmt(s.cpu_seconds, '9.2f')}  "
            + (s.note if s.status == "ok" else f"{s.status.upper()}: {s.note}")
        )


def compare_counts(truth: dict | None, warehouse: dict | None, naive: dict | None) -> tuple[bool | None, list[str]]:
    """Rows of `count | ground truth | warehouse | naive`; True when every present source agrees
    (None when fewer than two are present, so there is nothing to compare)."""
    sources = {"ground truth": truth, "warehouse": warehouse, "naive": naive}
    present = {k: v for k, v in sources.items() if v}
    keys = [("blocks", "blocks_per_task", t) for t in TASKS] + [("turns", "turns_per_task", t) for t in TASKS]
    lines = [f"{'count':<28} " + " ".join(f"{k:>13}" for k in sources)]
    agree = True
    for label, key, task in keys + [("boxes", "boxes_total", None)]:
        values = []
        for src in sources.values():
            if not src:
                values.append(None)
            elif task is None:
                values.append(src.get(key))
            else:
                values.append(src.get(key, {}).get(task, 0))
        seen = {v for v, src in zip(values, sources.values(), strict=True) if src}
        ok = len(seen) <= 1
        agree &= ok
        name = f"{label} {task}" if task else label
        lines.append(f"{name:<28} " + " ".join(f"{fmt(v, ',d'):>13}" for v in values) + ("" if ok else "   MISMATCH"))
    return (agree if len(present) >= 2 else None), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time each svit stage and a naive json.load baseline.")
    parser.add_argument("--images", type=int, default=2000, help="images in the generated corpus (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="reuse this corpus instead of generating one")
    parser.add_argument("--workdir", type=Path, help="where warehouses and outputs go (kept); default a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    parser.add_argument(
        "--with-llava", action="store_true", help="also time ingest of everything, LLaVA files included"
    )
    parser.add_argument("--skip-naive", action="store_true", help="do not run the naive baseline")
    parser.add_argument("--results", type=Path, help="results JSON (default bench/results/<timestamp>.json)")
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="do not drop the page cache before each stage (by default, where this user may, it is dropped and "
        "the stage's inputs read back in); the inputs are then read once at the start",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run ingest, naive, build, mix, export and stats N times each and report the median run "
        "(peak RSS: the highest); for a noisy machine",
    )
    parser.add_argument(
        "--scales",
        help="scaling mode: factors of --images, comma-separated (e.g. 0.25,1,4); the stages at each, then "
        "time and peak RSS against scale",
    )
    parser.add_argument(
        "--corpora",
        help="scaling mode: corpora already generated, by factor (e.g. 1=DIR,4=DIR; `svit sample --images "
        "<factor x --images> --seed <--seed>`): read where they are, not generated again",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.scales:
        if args.repeat != 1:
            parser.error("--repeat is for one scale; the scaling mode runs each stage once")
        return scaling(args)

    svit = svit_exe()
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="svit-bench-")) if temp else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        shutil.rmtree(workdir / name, ignore_errors=True)
    logs = workdir / "logs"
    started_at = dt.datetime.now()
    stages: list[Stage] = []
    try:
        # 1. The corpus.
        if args.corpus is not None:
            corpus = args.corpus.resolve()
            if not (corpus / "data").is_dir():
                sys.exit(f"run_bench: {corpus} has no data/ folder; is it a BAAI/SVIT download?")
        else:
            corpus = workdir / "corpus"
            stage = run_child(
                "sample",
                [svit, "sample", "--out", str(corpus), "--images", str(args.images), "--seed", str(args.seed)],
                logs,
            )
            if stage.status != "ok":
                print_table([stage])
                return 1
            stage.input_bytes = tree_bytes(corpus)
            stage.note = "input MB = bytes written"
            stages.append(stage)
        truth_file = corpus / "GROUND_TRUTH.json"
        truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None

        # 2. ingest: SVIT data files + VG image_data.json.
        ingest_files = make_ingest_staging(corpus, workdir / "ingest-src")
        ingest_bytes = sum(json_size(f) for f in ingest_files)
        naive_files = svit_data_files(corpus)
        naive_bytes = sum(json_size(f) for f in naive_files)
        all_files, llava_files = all_input_files(corpus)
        drop = not args.keep_cache and can_drop_cache()
        warm_seconds = 0.0
        if not drop:
            to_warm = sorted(set(ingest_files + naive_files + ((all_files + llava_files) if args.with_llava else [])))
            warm_seconds = warm_cache(to_warm)

        def settled(files: list[Path]) -> None:
            nonlocal warm_seconds
            if drop:
                warm_seconds += settle_cache(files)

        # 2. ingest (SVIT data files + VG image_data.json) and 3. the naive baseline on the same
        # data files, side by side: with --repeat, one run of each in turn, so that both meet
        # the machine as it is at the time.
        wh_ingest, naive_out = workdir / "wh-ingest", workdir / "naive-out"
        ingest_runs: list[Stage] = []
        naive_runs: list[Stage] = []
        for _ in range(args.repeat):
            shutil.rmtree(wh_ingest, ignore_errors=True)
            settled([f.resolve() for f in ingest_files])
            ingest_cmd = [svit, "ingest", str(workdir / "ingest-src"), "--warehouse", str(wh_ingest)]
            ingest_runs.append(run_child("ingest", ingest_cmd, logs, ingest_bytes))
            if not args.skip_naive:
                shutil.rmtree(naive_out, ignore_errors=True)
                settled(naive_files)
                naive_cmd = [sys.executable, str(BENCH / "naive_ingest.py"), str(corpus), "--out", str(naive_out)]
                naive_runs.append(run_child("naive", naive_cmd, logs, naive_bytes))
            if any(r.status != "ok" for r in ingest_runs + naive_runs):
                break
        ingest = median_run(ingest_runs)
        stages.append(ingest)
        counts_wh = warehouse_counts(wh_ingest) if ingest.status == "ok" else None
        if ingest.status == "ok":
            ingest.note = f"{len(ingest_files)} files; warehouse {tree_bytes(wh_ingest) / 1e6:,.1f} MB"
            ingest.note += spread_note(ingest)

        # 4. ingest-all (optional): the whole download and the LLaVA files.
        wh_last = wh_ingest if ingest.status == "ok" else None
        if args.with_llava:
            wh_all = workdir / "wh-all"
            cmd = [svit, "ingest", str(corpus), "--warehouse", str(wh_all)]
            for f in llava_files:
                cmd += ["--llava", str(f)]
            everything = all_files + llava_files
            settled(everything)
            stage = run_child("ingest-all", cmd, logs, sum(json_size(f) for f in everything))
            if stage.status == "ok":
                stage.note = f"{len(everything)} files; warehouse {tree_bytes(wh_all) / 1e6:,.1f} MB"
                wh_last = wh_all
            stages.append(stage)

        counts_naive = None
        naive = median_run(naive_runs) if naive_runs else None
        if naive is not None:
            if naive.status == "ok":
                counts_naive = json.loads((naive_out / "counts.json").read_text())
                naive.note = f"json.load + loops; output {tree_bytes(naive_out) / 1e6:,.1f} MB" + spread_note(naive)
            stages.append(naive)

        # 5. Later stages, on the most complete warehouse.
        # A recipe change for each run of `mix`: the same recipe with seeds 1, 2, ...
        recipe = REPO / "recipes" / "core_like.yml"
        changed = [workdir / f"core_like_seed_{k}.yml" for k in range(1, args.repeat + 1)]
        for k, path in enumerate(changed, start=1):
            path.write_text(recipe.read_text().replace("\nseed: 0\n", f"\nseed: {k}\n"))
        exported, report = workdir / "export" / "llava_svit_all.json", workdir / "report"
        later = [
            ("build", lambda k: ["build"], args.repeat),
            ("mix-first", lambda k: ["mix", str(recipe), "--replace"], 1),
            ("mix", lambda k: ["mix", str(changed[k]), "--replace"], args.repeat),
            ("export", lambda k: ["export", "llava_svit_all", "--out", str(exported)], args.repeat),
            ("stats", lambda k: ["stats", "--out", str(report)], args.repeat),
        ]
        for name, sub, times in later:
            if wh_last is None:
                stages.append(Stage(name, status="skipped", note="no warehouse (ingest failed)"))
                continue
            if name.startswith("mix") and not args.with_llava:
                stages.append(Stage(name, status="skipped", note="needs --with-llava (the official core set)"))
                continue
            runs = []
            for k in range(times):
                exported.unlink(missing_ok=True)  # a run writes what the one before it wrote
                shutil.rmtree(report, ignore_errors=True)
                exported.parent.mkdir(exist_ok=True)
                size = tree_bytes(wh_last)
                settled(tree_files(wh_last))
                runs.append(run_child(name, [svit, *sub(k), "--warehouse", str(wh_last)], logs, size))
                if runs[-1].status != "ok":
                    break
            stage = median_run(runs)
            if stage.status == "ok":
                stage.note = "input MB = warehouse size" + spread_note(stage)
            stages.append(stage)

        # 6. Report.
        print()
        corpus_desc = f"{corpus}"
        if truth:
            gen = truth.get("generator", {})
            corpus_desc += f" ({truth.get('images', '?'):,} images, seed {gen.get('seed', '?')})"
        cache = (
            f"page cache dropped before each stage, its inputs read back in ({warm_seconds:.1f}s in all)"
            if drop
            else f"page cache warmed in {warm_seconds:.1f}s"
        )
        print(f"corpus: {corpus_desc}; {cache}")
        print_table(stages)
        speedup, pairs = None, []
        if naive is not None and naive.status == "ok" and ingest.status == "ok":
            speedup = naive.seconds / ingest.seconds
            pairs = [n.seconds / i.seconds for i, n in zip(ingest_runs, naive_runs, strict=False)]
            print(
                f"\ningest speedup over naive: {speedup:.2f}x  "
                f"(naive {naive.seconds:.1f}s / ingest {ingest.seconds:.1f}s; "
                f"peak RSS {naive.peak_rss_mib:,.0f} vs {ingest.peak_rss_mib:,.0f} MiB)"
                + (f"; run by run: {', '.join(f'{r:.2f}x' for r in pairs)}" if len(pairs) > 1 else "")
            )
        agree, count_lines = compare_counts(truth, counts_wh, counts_naive)
        print()
        print("\n".join(count_lines))
        print(f"counts agree: {'n/a (fewer than two sources)' if agree is None else 'yes' if agree else 'NO'}")

        facts = machine_facts()
        print("\nmachine: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        results = {
            "started_at": started_at.isoformat(timespec="seconds"),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "corpus": str(corpus),
            "corpus_images": truth.get("images") if truth else None,
            "corpus_seed": truth.get("generator", {}).get("seed") if truth else None,
            "workdir": str(workdir),
            "warm_cache_seconds": round(warm_seconds, 3),
            "cache_dropped_before_each_stage": drop,
            "machine": facts,
            "stages": [dict(asdict(s), mb_per_s=s.mb_per_s and round(s.mb_per_s, 2)) for s in stages],
            "speedup_ingest_over_naive": speedup and round(speedup, 3),
            "speedup_run_by_run": [round(r, 3) for r in pairs],
            "counts": {
                "ground_truth": truth
                and {k: truth.get(k) for k in ("blocks_per_task", "turns_per_task", "boxes_total")},
                "warehouse": counts_wh,
                "naive": counts_naive,
            },
            "counts_agree": agree,
        }
        out = args.results or BENCH / "results" / f"{started_at.strftime('%Y%m%dT%H%M%S')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        print(f"results: {out}")
        if temp and args.keep:
            print(f"workdir kept: {workdir}")
        failed = [s.name for s in stages if s.status == "failed"]
        return 1 if failed or agree is False else 0
    finally:
        if temp and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


# Disk a corpus takes per image, with its warehouse and export, rounded up from the full-scale
# run's sizes (bench/README.md, "Scaling"): a scale that cannot fit is refused before its
# corpus is generated, not found out hours later.
BYTES_PER_IMAGE = 80_000
SCALED_STAGES = ("sample", "ingest", "ingest-all", "build", "mix-first", "mix", "export", "stats")


def scaling(args: argparse.Namespace) -> int:
    """Run the stages at each scale, one corpus at a time (each removed after its run unless
    --keep), and print time and peak RSS per stage against scale."""
    factors = [float(f) for f in args.scales.split(",")]
    given = {
        float(f): Path(d).resolve() for f, d in (item.split("=", 1) for item in (args.corpora or "").split(",") if item)
    }
    temp = args.workdir is None
    root = Path(tempfile.mkdtemp(prefix="svit-scaling-")) if temp else args.workdir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    runs: dict[float, dict] = {}
    try:
        for factor in factors:
            images = max(1, round(args.images * factor))
            need, free = images * BYTES_PER_IMAGE, shutil.disk_usage(root).free
            if factor in given:  # no corpus to write: about half of what a scale takes
                need //= 2
            if need > free:
                print(
                    f"run_bench: scale {factor:g} ({images:,} images) needs about {need / 1e9:.1f} GB free "
                    f"in {root}, which has {free / 1e9:.1f} GB; skipped (--workdir on a larger disk)",
                    file=sys.stderr,
                )
                continue
            work = root / f"scale-{factor:g}"
            results = work / "results.json"
            print(f"\n== scale {factor:g}: {images:,} images ==", flush=True)
            argv = (
                ["--corpus", str(given[factor])]
                if factor in given
                else ["--images", str(images), "--seed", str(args.seed)]
            )
            argv += ["--workdir", str(work)]
            argv += ["--results", str(results), "--skip-naive"] + (["--with-llava"] if args.with_llava else [])
            argv += ["--keep-cache"] if args.keep_cache else []
            main(argv)
            if results.is_file():
                runs[factor] = json.loads(results.read_text())
                if any(s["status"] == "failed" for s in runs[factor]["stages"]):
                    keep_logs(work, root / f"logs-scale-{factor:g}")
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        print()
        print("\n".join(scaling_lines(runs)))
        out = args.results or BENCH / "results" / f"scaling-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"images": args.images, "runs": {f"{f:g}": r for f, r in runs.items()}}, indent=2))
        print(f"results: {out}")
        return 0 if len(runs) == len(factors) else 1
    finally:
        if temp and not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def keep_logs(work: Path, to: Path) -> None:
    """The stages' logs and the warehouses' dbt logs of a scale that failed, kept out of its
    workdir (which is removed) to say why."""
    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(work / "logs", to / "stages", dirs_exist_ok=True)
    for dbt_logs in work.glob("wh-*/dbt/logs"):
        shutil.copytree(dbt_logs, to / dbt_logs.parent.parent.name, dirs_exist_ok=True)
    print(f"run_bench: a stage failed; its logs are kept in {to}", file=sys.stderr)


def scaling_lines(runs: dict[float, dict]) -> list[str]:
    """The scaling table: per stage and scale, seconds and peak RSS, and against the scale 1
    run (else the smallest): time per unit of data (1.00 = linear; the goal is 4x data in at most
    4.5x the time, 1.125) and peak RSS (the goal: at most 1.5x)."""
    if not runs:
        return ["no scale ran"]
    factors = sorted(runs)
    base = 1.0 if 1.0 in runs else factors[0]
    stages = {f: {s["name"]: s for s in runs[f]["stages"] if s["status"] == "ok"} for f in factors}
    header = f"{'stage':<11}" + "".join(f"{f'x{f:g} s':>10}{f'x{f:g} MiB':>12}" for f in factors)
    header += f"  against x{base:g}: time per data, peak RSS"
    lines = [header, "-" * len(header)]
    for name in SCALED_STAGES:
        if not any(name in stages[f] for f in factors):
            continue
        cells, growth = [], []
        for f in factors:
            stage = stages[f].get(name)
            cells.append(f"{fmt(stage and stage['seconds'], '10.1f')}{fmt(stage and stage['peak_rss_mib'], '12.0f')}")
            first = stages[base].get(name)
            if f != base and stage and first:
                time_per_data = (stage["seconds"] / first["seconds"]) / (f / base)
                rss = stage["peak_rss_mib"] / first["peak_rss_mib"]
                growth.append(f"x{f:g}: {time_per_data:.2f}, {rss:.2f}")
        lines.append(f"{name:<11}" + "".join(cells) + "  " + "; ".join(growth))
    return lines


if __name__ == "__main__":
    sys.exit(main())
