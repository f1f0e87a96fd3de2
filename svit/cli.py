"""The `svit` command line: one subcommand per pipeline stage (docs/cli.md)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from svit import __version__
from svit.core.errors import SvitError
from svit.core.facts import LLAVA_FILE_SHAPES
from svit.core.groundings import DEFAULT as DEFAULT_GROUNDING
from svit.core.groundings import GROUNDINGS
from svit.core.settings import WAREHOUSE_VAR
from svit.core.warehouse import Warehouse

BUNDLED_SAMPLE = Path(__file__).parent / "sample_corpus"

# No `envvar=` on the option: Warehouse.resolve reads $SVIT_WAREHOUSE, after the option given
# before the command (`svit --warehouse DIR COMMAND`), which an envvar here would override.
warehouse_option = click.option(
    "--warehouse",
    "warehouse_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help=f"Warehouse directory (default: the one given before the command, else ${WAREHOUSE_VAR}, else ./warehouse).",
)


def resolve_warehouse(warehouse_dir: str | None) -> Warehouse:
    """The command's warehouse: its own --warehouse, else `svit --warehouse DIR` before the command;
    Warehouse.resolve picks the default ($SVIT_WAREHOUSE, else ./warehouse)."""
    before_command = click.get_current_context().find_root().params.get("warehouse_dir")
    return Warehouse.resolve(warehouse_dir or before_command)


allow_stale_option = click.option(
    "--allow-stale",
    is_flag=True,
    help="Read models built from an older snapshot of the tables anyway (a warning says so).",
)


@contextlib.contextmanager
def reading(
    warehouse: Warehouse,
    allow_stale: bool,
    models: bool = True,
    named: tuple[str, ...] = (),
    tables_only: str = "",
) -> Iterator[None]:
    """A reading command's whole run: one snapshot, kept on disk meanwhile, and fresh models
    (and fresh user mixes among the `named` models)."""
    from svit.core.snapshots import reading as hold_snapshot

    with hold_snapshot(warehouse.root):
        if models:
            for model in named or (None,):
                note = warehouse.require_fresh_models(allow_stale, model, tables_only)
                if note:
                    click.echo(f"svit: {note}", err=True)
        yield


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="svit")
@click.option(
    "--warehouse",
    "warehouse_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help=f"Warehouse directory for the command (its own --warehouse wins; default ${WAREHOUSE_VAR}, else ./warehouse).",
)
def cli(warehouse_dir: str | None) -> None:
    """svit-warehouse: SVIT and LLaVA-1.5 instruction data as a queryable warehouse.

    `svit COMMAND --help` shows a command's options and an example.

    \b
    Example:
      svit demo --warehouse /tmp/svit-wh
      svit --warehouse /tmp/svit-wh status
    """


@cli.command(short_help="Write a synthetic corpus in the BAAI/SVIT layout.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write the corpus into."
)
@click.option(
    "--images", default=300, show_default=True, type=click.IntRange(min=1), help="Number of Visual Genome images."
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Random seed; the same seed gives byte-identical files."
)
@click.option("--zip", "zip_data", is_flag=True, help="Ship data/*.json as data/*.zip, as BAAI does.")
@click.option(
    "--with-images",
    is_flag=True,
    help="Also write small image files at the paths the records name (OUT/images/), with planted defects.",
)
def sample(out_dir: str, images: int, seed: int, zip_data: bool, with_images: bool) -> None:
    """Write a synthetic corpus laid out like the BAAI/SVIT download.

    It writes a corpus, not a warehouse: `svit ingest` reads the corpus into one. Progress
    shows on standard error when it is a terminal; the last line sums up what was written.

    With --with-images, a real image file stands at every path the records name, under
    OUT/images/ (LLaVA's layout), with planted defects listed in OUT/images/IMAGES_TRUTH.json:
    missing, empty, truncated, GIF or PNG under a .jpg name, wrong size, CMYK.

    \b
    Example:
      svit sample --out corpus --images 100 --seed 1
      svit sample --out corpus --with-images && svit images corpus/images
    """
    import time

    from synth.corpus import generate_corpus

    started = time.perf_counter()
    truth = generate_corpus(Path(out_dir), images=images, seed=seed, zip_data=zip_data, progress=True)
    blocks = truth["blocks_per_task"]
    click.echo(
        f"wrote {out_dir}: {truth['images']:,} images, {sum(blocks.values()):,} SVIT blocks ("
        + ", ".join(f"{task} {n:,}" for task, n in blocks.items())
        + f"), {truth['qa_pairs_total']:,} QA pairs, a LLaVA-1.5 mix of {truth['llava_mix665k']['records']:,} records"
        f", in {time.perf_counter() - started:.1f}s"
    )
    if with_images:
        from synth.images import write_images

        started = time.perf_counter()
        written = write_images(Path(out_dir), seed)
        planted = sum(len(paths) for paths in written["defects"].values())
        click.echo(
            f"wrote {Path(out_dir) / 'images'}: {written['files_written']:,} image files for {written['paths']:,} "
            f"paths, {planted} planted defects (images/IMAGES_TRUTH.json), in {time.perf_counter() - started:.1f}s"
        )


@cli.command(short_help="Add or update sources: JSON or zips to Parquet tables.")
@click.argument("source_dir", type=click.Path())
@click.option(
    "--llava",
    "llava_files",
    multiple=True,
    type=click.Path(),
    help="A LLaVA-family file to ingest (repeatable): a JSON array or JSON lines of LLaVA, LLaVA-NeXT, InternVL, "
    "ShareGPT (LLaMA-Factory) or TRL records, told apart by the file itself (docs/warehouse.md).",
)
@click.option(
    "--format",
    "llava_format",
    type=click.Choice(LLAVA_FILE_SHAPES),
    default=None,
    help="The record shape of the --llava files, when their first records do not tell it: llava (LLaVA, "
    "LLaVA-NeXT, InternVL, Qwen), sharegpt (LLaMA-Factory) or messages (TRL content parts).",
)
@click.option(
    "--no-image-id-check",
    is_flag=True,
    help=(
        "Read SVIT files without raw/annotations/vg/image_data.json: "
        "their image ids are not checked (recorded in the manifest)."
    ),
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also print the readers' own lines: each file's scan size and speed, each step's time.",
)
@warehouse_option
def ingest(
    source_dir: str,
    llava_files: tuple[str, ...],
    llava_format: str | None,
    no_image_id_check: bool,
    verbose: bool,
    warehouse_dir: str | None,
) -> None:
    """Add or update sources: a BAAI/SVIT download (JSON or zips) and LLaVA files, into Parquet tables.

    Sources ingested before and not given now are kept as they were; `svit drop` removes one.
    One line per file read (records, blocks, turns, boxes, rejected, rate; the first rejected
    records with their reason), then one line of totals; progress bars on standard error when
    it is a terminal.

    \b
    Example:
      svit sample --out corpus
      svit ingest corpus --llava corpus/llava/llava_v1_5_mix665k.json
      svit ingest corpus --llava text_only_sharegpt.json --format sharegpt
    """
    import time

    from ingest.pipeline import run_ingest

    warehouse = resolve_warehouse(warehouse_dir)
    started = time.perf_counter()
    report = run_ingest(
        Path(source_dir),
        tuple(Path(f) for f in llava_files),
        warehouse,
        check_image_ids=not no_image_id_check,
        verbose=verbose,
        llava_format=llava_format or "",
    )
    seconds = time.perf_counter() - started
    for line in report.warnings:
        click.echo(f"svit: warning: {line}", err=True)
    if report.up_to_date:
        click.echo(f"{warehouse.root}: up to date (every input unchanged since run {report.run_id}), {seconds:.1f}s")
        return
    read = [f for f in report.files if f.status == "ingested"]
    unchanged = sum(f.status == "unchanged" for f in report.files)
    kept = sum(f.status == "kept" for f in report.files)
    if warehouse.duckdb_path.is_file():
        click.echo("svit: note: the models are now stale; run `svit build`", err=True)
    rejected = sum(f.records_rejected for f in read)
    if report.rejected != rejected:  # with those of the sources reused
        rejected_note = f" (the rejects table holds {report.rejected:,})"
    else:
        rejected_note = " (see the rejects table)" if rejected else ""
    click.echo(
        f"{warehouse.root}: snapshot {report.run_id}, {len(report.files)} sources ({len(read)} read, "
        f"{unchanged} unchanged, {kept} kept), {sum(f.records_read for f in read):,} records read, "
        f"{rejected:,} rejected{rejected_note}, {seconds:.1f}s"
    )


def _say_snapshot(warehouse: Warehouse, report) -> None:
    status = {s: sum(f.status == s for f in report.files) for s in ("ingested", "unchanged", "kept")}
    click.echo(
        f"{warehouse.root}: snapshot {report.run_id}, {len(report.files)} sources "
        f"({status['ingested']} read, {status['unchanged']} unchanged, {status['kept']} kept"
        + (f", dropped {', '.join(report.dropped)}" if report.dropped else "")
        + f"), {report.rejected:,} records rejected"
        + (" (see the rejects table)" if report.rejected else "")
    )
    if warehouse.duckdb_path.is_file():
        click.echo("the models are now stale: run `svit build`")


@cli.command(short_help="Remove sources (a new snapshot without them).")
@click.argument("names", nargs=-1, required=True, metavar="SOURCE...")
@warehouse_option
def drop(names: tuple[str, ...], warehouse_dir: str | None) -> None:
    """Remove sources from the warehouse (a new snapshot without them).

    SOURCE is a name as `svit sources` lists it, or a LLaVA file's model name.

    \b
    Example:
      svit drop llava_instruct_150k.json
    """
    from ingest.pipeline import drop_sources

    warehouse = resolve_warehouse(warehouse_dir)
    _say_snapshot(warehouse, drop_sources(warehouse, names))


@cli.command(short_help="List the sources and whether their files changed.")
@click.option(
    "--no-check", is_flag=True, help="Do not hash the source files to see whether they still hold the same bytes."
)
@warehouse_option
def sources(no_check: bool, warehouse_dir: str | None) -> None:
    """List the sources the warehouse holds and whether their files still hold the same bytes.

    \b
    Example:
      svit sources --warehouse warehouse
    """
    from svit.status import source_rows

    warehouse = resolve_warehouse(warehouse_dir)
    rows = source_rows(warehouse, check=not no_check)
    if not rows:
        click.echo(f"{warehouse.root}: no sources yet; run `svit ingest SOURCE_DIR`")
        return
    click.echo(f"{'name':<32} {'kind':<14} {'records':>10}  {'file':<9} path")
    for r in rows:
        click.echo(f"{r['name']:<32} {r['kind']:<14} {r['records']:>10,}  {r['file']:<9} {r['path']}")


@cli.command(short_help="Snapshot, damage, sources, and whether models are fresh.")
@warehouse_option
def status(warehouse_dir: str | None) -> None:
    """What the warehouse holds: its snapshot, sources, damage, and whether the models are fresh.

    Exit status 1 when the tables are damaged or the models are stale.

    \b
    Example:
      svit status --warehouse warehouse
    """
    from svit.status import status_lines

    lines, healthy = status_lines(resolve_warehouse(warehouse_dir))
    for line in lines:
        click.echo(line)
    if not healthy:
        sys.exit(1)


@cli.command(short_help="Run `dbt build` on the warehouse.", context_settings={"ignore_unknown_options": True})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show dbt's own output as it runs, instead of one progress line (it is always in dbt/logs/build.log).",
)
@click.option(
    "--unit-tests",
    is_flag=True,
    help="Also run dbt's unit tests (the models' SQL on fixed rows; the test suite runs them).",
)
@warehouse_option
def build(dbt_args: tuple[str, ...], verbose: bool, unit_tests: bool, warehouse_dir: str | None) -> None:
    """Run `dbt build` on the warehouse (extra arguments go to dbt).

    Models, seeds and data tests; dbt's unit tests with --unit-tests. While dbt runs, one
    progress line on standard error (when it is a terminal); then each model's time and a
    summary. dbt's own output goes to <warehouse>/dbt/logs/build.log (and to standard error
    with -v); when the build fails, its error lines are shown.

    \b
    Example:
      svit build
      svit build --select llava_svit_all
      svit build --unit-tests
    """
    import time

    from svit.core.dbt import log_file, started_dbt

    if any("box_format" in arg for arg in dbt_args):  # dbt would ignore it without a word
        raise SvitError(
            "the box_format var is gone: the models hold the boxes as published; choose another grounding per "
            "output: `grounding:` in a mix recipe, or `svit export --grounding` (docs/models.md, Groundings)"
        )
    started = time.perf_counter()
    # dbt's interpreter imports dbt while svit loads the code that runs the build.
    with started_dbt() as dbt:
        from svit.workflows import BUILD_LOG, build_with_manifests

        warehouse = resolve_warehouse(warehouse_dir)
        timings, manifests = build_with_manifests(
            warehouse, dbt_args, verbose=verbose, unit_tests=unit_tests, process=dbt
        )
    seconds = time.perf_counter() - started
    models = sorted((t for t in timings if t.kind == "model"), key=lambda t: -t.seconds)
    click.echo(f"  {'model':<40} {'seconds':>7}")
    for t in models:
        click.echo(f"  {t.name:<40} {t.seconds:7.2f}")
    for mix in manifests:
        click.echo(f"{mix.name}: {mix.records:,} records, manifest {mix.manifest_path}")
    tests = [t for t in timings if t.kind in ("test", "unit_test")]
    warned = sum(t.status == "warn" for t in tests)
    seeds = sum(t.kind == "seed" for t in timings)

    def count(n: int, what: str) -> str:
        return f"{n:,} {what}{'' if n == 1 else 's'}"

    click.echo(
        f"built {count(len(models), 'model')}"
        + (f" and {count(seeds, 'seed')}" if seeds else "")
        + f", {count(len(tests) - warned, 'test')} passed"
        + (f", {warned:,} with a warning" if warned else "")
        + f" in {seconds:.1f}s; dbt's output: {log_file(warehouse, BUILD_LOG)}"
    )


# The formats of svit/export/formats (a test keeps the two in step; listed here so that
# `svit --help` does not load Polars).
EXPORT_FORMATS = {
    "llava": "one JSON array as LLaVA loads it (--indent N)",
    "jsonl": "one LLaVA record per line",
    "messages": "JSON lines of chat messages with content parts (TRL)",
    "sharegpt": "LLaMA-Factory's ShareGPT records and a dataset_info.json entry",
    "internvl": "InternVL's JSON lines with image sizes and a meta file entry",
    "qwen": "Qwen2-VL / Qwen2.5-VL fine-tuning records",
    "parquet": "a folder of Parquet shards with a dataset card",
}


def export_options(fn):
    """The options that shape an export file, shared by `svit export` and `svit mix --export`."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(list(EXPORT_FORMATS)),
            default="llava",
            show_default=True,
            help="; ".join(f"{name}: {text}" for name, text in EXPORT_FORMATS.items()) + ".",
        ),
        click.option(
            "--indent",
            type=click.IntRange(min=0),
            default=None,
            help="llava only: indent like json.dump(indent=N) (default: one line, as json.dump).",
        ),
        click.option(
            "--ascii",
            "ensure_ascii",
            is_flag=True,
            help="JSON formats: escape non-ASCII characters as \\uXXXX (json.dump's ensure_ascii=True).",
        ),
        click.option(
            "--dataset-name",
            default=None,
            help="sharegpt, internvl: the entry's name in dataset_info.json / internvl_meta.json "
            "(default: the file's name without suffix).",
        ),
        click.option(
            "--image-root",
            default=None,
            help="internvl: the meta entry's root, the folder the image paths are relative to (default: empty).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _grounding_text(grounding: dict | None) -> str:
    """A grounding as the outputs name it; the published one, the default, goes unsaid."""
    if not grounding or grounding["name"] == DEFAULT_GROUNDING:
        return ""
    parameters = ", ".join(f"{key} {value}" for key, value in grounding.items() if key != "name")
    return f" (grounding {grounding['name']}{': ' + parameters if parameters else ''})"


def _report_export(result, seconds: float) -> None:
    click.echo(
        f"wrote {result.out}: {result.records:,} records of {result.model} as {result.fmt}"
        + _grounding_text(result.grounding)
        + f", {result.bytes / 1e6:,.1f} MB in {seconds:.1f}s"
    )
    for path in result.side_files:
        click.echo(f"  updated {path}")
    for note in result.notes:
        click.echo(f"  note: {note}")


@cli.command(short_help="Write a model in a trainer's file format.")
@click.argument("model")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(),
    help="File to write (a folder for --format parquet); its folder must exist.",
)
@export_options
@click.option(
    "--grounding",
    type=click.Choice(list(GROUNDINGS)),
    default=None,
    help="SVIT models and mixes: write the referring boxes in this syntax (default: as the model holds them, "
    "the models as published). "
    + "; ".join(f"{name}: {g.summary}" for name, g in GROUNDINGS.items())
    + ". See docs/models.md, Groundings.",
)
@click.option(
    "--lengths",
    default=None,
    metavar="F[:TOKENIZER]",
    help="llava, jsonl, internvl: add each record's `length` in tokens as `svit tokens` counted it for family F "
    "(llava/jsonl: negative for text-only records, LLaVA's modality_lengths sign). See docs/export.md.",
)
@click.option(
    "--no-progress", is_flag=True, help="No progress bar (it is hidden anyway when stderr is not a terminal)."
)
@allow_stale_option
@warehouse_option
def export(
    model: str,
    out_file: str,
    fmt: str,
    indent: int | None,
    ensure_ascii: bool,
    dataset_name: str | None,
    image_root: str | None,
    grounding: str | None,
    lengths: str | None,
    no_progress: bool,
    allow_stale: bool,
    warehouse_dir: str | None,
) -> None:
    """Write a model in the file format of a trainer.

    MODEL is a dbt model (llava_svit_all, ...), a mix, or an ingested LLaVA file by its model
    name (llava_v1_5_mix665k, ...). For --format parquet, --out is a folder of shards; an
    earlier export there is replaced. An option that does not apply to the format is an error.
    Every export is logged, with its grounding, in <warehouse>/exports/exports.jsonl.

    \b
    Example:
      svit export llava_svit_all --format sharegpt --out exports/svit_all.json
      svit export llava_svit_referring_qa --grounding internvl --format internvl --out exports/ref.jsonl
      svit export my_mix --format internvl --lengths internvl --out exports/my_mix.jsonl
    """
    import time

    from ingest.sources import LLAVA, model_name
    from svit.export import export as run_export

    warehouse = resolve_warehouse(warehouse_dir)
    from svit.core.models_db import built_relations

    # An ingested file is read from the tables, fresh; a model or mix of the same name wins in
    # the export, so it is checked as a model then.
    ingested_file = model not in built_relations(warehouse) and any(
        s["kind"] == LLAVA and model_name(s["name"]) == model for s in warehouse.sources()
    )
    started = time.perf_counter()
    with reading(warehouse, allow_stale, models=not ingested_file, named=(model,)):
        result = run_export(
            warehouse,
            model,
            Path(out_file),
            fmt,
            indent=indent,
            ensure_ascii=ensure_ascii,
            progress=not no_progress,
            dataset_name=dataset_name,
            image_root=image_root,
            grounding=grounding,
            lengths=lengths,
        )
    _report_export(result, time.perf_counter() - started)


@cli.command(short_help="Compare the official LLaVA files with the derived records.")
@click.option("--show", default=5, show_default=True, type=click.IntRange(min=0), help="Differences to show per file.")
@allow_stale_option
@warehouse_option
def verify(show: int, allow_stale: bool, warehouse_dir: str | None) -> None:
    """Compare the derived LLaVA records with the official format/llava-v1.5 files.

    Exit status 1 when a record differs.

    \b
    Example:
      svit verify --show 2
    """
    from svit.verify import verify as run_verify

    warehouse = resolve_warehouse(warehouse_dir)
    with reading(warehouse, allow_stale):
        reports = run_verify(warehouse, show)
    differing = 0
    for r in reports:
        click.echo(
            f"{r.source}: {r.records:,} records, {r.matched:,} matched, {r.differing:,} differing, "
            f"{r.unmatched:,} unmatched (no SVIT block reads the same)"
        )
        for instruction, n in sorted(r.instructions.items(), key=lambda kv: -kv[1]):
            click.echo(f"  instruction {n:>9,}  {instruction}")
        click.echo(f"  per record: {r.per_record}")
        for d in r.differences:
            click.echo(
                f"  differs: record {d['record_index']} (official id {d['official_id']!r}, ours {d['derived_id']}), "
                f"turn {d['turn']}:\n    official: {d['official']!r}\n    derived:  {d['derived']!r}"
            )
        differing += r.differing
    if differing:
        raise SvitError(f"{differing:,} official records differ from what the warehouse derives")


@cli.command(short_help="Distribution report with tables and plots.")
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="M",
    help="LLaVA model or mix to profile (repeatable; default llava_svit_all and every ingested LLaVA file).",
)
@click.option("--compare", nargs=2, metavar="A B", default=None, help="Put two models or mixes side by side.")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), default="report", show_default=True, help="Report directory."
)
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Cut-off in tokens the token counts are compared to (default: each family's usual one).",
)
@allow_stale_option
@warehouse_option
def stats(
    models: tuple[str, ...],
    compare: tuple[str, str] | None,
    out_dir: str,
    max_length: int | None,
    allow_stale: bool,
    warehouse_dir: str | None,
) -> None:
    """Distribution statistics and plots: report.md, report.html, CSV tables, PNGs.

    Where `svit tokens` has counted a model, the report adds its token lengths and how many
    records are over the trainer's cut-off (--max-length, else the family's usual one).

    \b
    Example:
      svit stats --model llava_svit_all --out report
      svit stats --model my_mix --max-length 4096
    """
    from svit.stats import run_stats

    warehouse = resolve_warehouse(warehouse_dir)
    with reading(warehouse, allow_stale, named=tuple(models) + tuple(compare or ())):
        report = run_stats(warehouse, Path(out_dir), models, compare or None, max_length)
    for line in report.summary_lines():
        click.echo(line)
    click.echo(
        f"wrote {report.out_dir / 'report.md'}, report.html and {len(report.files) - 2} CSV/PNG files "
        f"in {report.seconds:.1f}s"
    )


@cli.command(short_help="Check the image files records point at.")
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="M",
    help="Model, mix or ingested LLaVA file whose images to check (repeatable; default llava_svit_all and "
    "every ingested LLaVA file).",
)
@click.option("--decode", is_flag=True, help="Decode every image whole, not just its header and end marker.")
@click.option("--hash", "with_hash", is_flag=True, help="Also record each file's sha256.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@warehouse_option
def images(
    root: Path, models: tuple[str, ...], decode: bool, with_hash: bool, no_progress: bool, warehouse_dir: str | None
) -> None:
    """Check the image files the records name, under ROOT (LLaVA's layout: coco/train2017,
    gqa/images, ocr_vqa/images, textvqa/train_images, vg/VG_100K, vg/VG_100K_2).

    Every path goes into the table image_files (exists, bytes, format by magic bytes, the
    format its name says, width, height, mode, frames, decodable, error, sha256 with --hash).
    Records whose image is missing, unreadable, mislabelled, of another size than the
    metadata says, or CMYK are counted per model and image prefix and listed in
    <warehouse>/report/images_problems.csv. A rerun reads again only the files whose size or
    modification time changed. Nothing under ROOT is written.

    \b
    Example:
      svit images /data/llava --model llava_v1_5_mix665k
      svit images /data/llava --decode --hash
    """
    from svit.images import run_images

    warehouse = resolve_warehouse(warehouse_dir)
    with reading(warehouse, allow_stale=False):
        result = run_images(warehouse, root, models, decode, with_hash, progress=not no_progress)
    for line in result.summary_lines():
        click.echo(line)


@cli.command(short_help="Count records' tokens for a model family.")
@click.option(
    "--family",
    "family_name",
    required=True,
    metavar="F",
    help="Model family whose layout and image rule to use: llava-1.5, llava-next, qwen2-vl, qwen2.5-vl, internvl.",
)
@click.option(
    "--tokenizer",
    "tokenizer_spec",
    default=None,
    metavar="SPEC",
    help=(
        "A tokenizer.json, a SentencePiece .model, a .tiktoken rank file, or a bundled name "
        "(qwen2, mistral-v1); default: the family's (docs/tokens.md)."
    ),
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="M",
    help="LLaVA model, mix or ingested file to count (repeatable; default llava_svit_all and every ingested file).",
)
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    help="Report the records over this many tokens (default: the family's usual trainer cut-off).",
)
@warehouse_option
def tokens(
    family_name: str,
    tokenizer_spec: str | None,
    models: tuple[str, ...],
    max_length: int | None,
    warehouse_dir: str | None,
) -> None:
    """Count each record's tokens as a model family trains on it, into the table record_tokens.

    The conversation is laid out as the family's trainer lays it out (roles, separators, image
    markers) and tokenised; the image adds the positions the family's rule gives for its size. Counts
    are cached by text, so another model sharing texts tokenises only new texts, and a model whose
    records, layout and image sizes are as at its last count is not read again. Records whose
    image size is unknown are counted and named, their totals left empty.

    \b
    Example:
      svit tokens --family qwen2-vl --model llava_svit_all --max-length 2048
      svit tokens --family llava-1.5 --tokenizer vicuna/tokenizer.model
    """
    from svit.tokens import run_tokens

    warehouse = resolve_warehouse(warehouse_dir)
    with reading(warehouse, allow_stale=False):
        result = run_tokens(warehouse, family_name, tokenizer_spec, models, max_length)
    for line in result.summary_lines():
        click.echo(line)


@cli.command(short_help="Build a mix and write its manifest.")
@click.argument("recipe")
@click.option(
    "--export",
    "export_file",
    type=click.Path(),
    default=None,
    help="Also write the mix to this file (a folder for --format parquet), in --format (default llava).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Rebuild a mix of the recipe's name that was built from another recipe (a changed one).",
)
@export_options
@warehouse_option
def mix(
    recipe: str,
    export_file: str | None,
    replace: bool,
    fmt: str,
    indent: int | None,
    ensure_ascii: bool,
    dataset_name: str | None,
    image_root: str | None,
    warehouse_dir: str | None,
) -> None:
    """Build a mix and write its manifest.

    RECIPE is a recipe file (YAML: name, seed, shuffle, grounding, max_tokens, exclude, sources
    with take, filter, select, yes_no_ratio, upsample, repeat) or a published mix:
    mix_svit_core_150k, mix_svit_mix_665k.

    take: N gives at most N records: when the filter keeps fewer, the source runs short and
    the output and the manifest say by how many. Copies only when asked: upsample: true
    repeats records up to N, repeat: k gives every record picked k times.

    Drops, at the top (every source) or in a source: max_tokens: N leaves out records
    `svit tokens` counted longer than N; exclude: [rule, ...] records `svit check` found
    under those rules. Both before the filter, counted per reason in the manifest.

    A mix's name is bound to its recipe's content: the same recipe builds again from any
    file; a changed recipe of that name needs --replace. `svit drop-mix NAME` removes a mix.

    \b
    Filter columns (a DuckDB predicate over them and the record's own columns):
      image_prefix        first folder of image (coco, vg, ...); none: text-only
      n_turns, n_qa       turns; question-answer pairs (turns // 2)
      answers             answers (gpt turns) of the record
      min_answer_words    words of the record's shortest answer
      max_answer_words    words of its longest answer
      min_question_words  words of its shortest question (human turn)
      max_question_words  words of its longest question
      words               total words of all its turns
      human_words         total words of all its questions
      gpt_words           total words of all its answers
      has_boxes           a [x1, y1, x2, y2] box in some turn
      yes_no              yes / no: its first answer is a Yes / No answer; else null
    Words count as svit stats counts them (runs of non-whitespace), <image>
    not a word; without answers min/max are null.
    A Yes (No) answer begins with yes (no) in any case, then the end or a
    character other than a letter or digit: Yes. / yes, / NO count, yes1 /
    Yesterday / Nope do not (the rule of svit stats too, docs/mixes.md).

    \b
    Example:
      svit mix recipes/core_like.yml
      svit mix mix_svit_core_150k --export core_150k.jsonl --format internvl
    """
    from svit.core.dbt import started_dbt

    # dbt's interpreter imports dbt while svit loads its mix code and checks what it was given.
    with started_dbt() as dbt:
        from svit.mix import build_mix

        warehouse = resolve_warehouse(warehouse_dir)
        if export_file:  # refused before the mix is built, not after
            from svit.core.output_guard import check_output
            from svit.export import FORMATS, Options  # Polars: only a mix that is exported loads it
            from svit.export.output import check_out

            check_output(warehouse, Path(export_file), allowed=("exports",), what="exports")
            out = Path(export_file).absolute()
            FORMATS[fmt].check(Options(indent, ensure_ascii, dataset_name, image_root), out)
            check_out(out, folder=fmt == "parquet")
        elif fmt != "llava" or indent is not None or ensure_ascii or dataset_name is not None or image_root is not None:
            raise SvitError(
                "--format, --indent, --ascii, --dataset-name and --image-root shape --export: give --export FILE"
            )
        # A mix is built by dbt from the models: they must match the tables (no --allow-stale here).
        with reading(warehouse, allow_stale=False):
            result = build_mix(warehouse, recipe, replace=replace, process=dbt)
    click.echo(f"{result.name}: {result.records:,} records" + _grounding_text(result.manifest.get("grounding")))
    if result.replaced:
        click.echo(f"  replaced: the mix {result.name} built before from other recipe content ({result.replaced})")
    for s in result.manifest["sources"]:
        short = f"  short by {s['short_by']:,}" if s.get("short_by") else ""
        click.echo(
            f"  {s['source']:<32} available {s['available']:>9,}  filtered {s['filtered']:>9,}  "
            f"selected {s['selected']:>9,}  upsampled {s['upsampled']:>9,}{short}"
        )
        if s.get("dropped_by"):
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in s["dropped_by"].items())
            click.echo(f"  {'':<32} dropped {s['dropped']:>11,}  ({reasons})")
    for name, c in result.manifest.get("coverage", {}).get("mixes", {}).items():
        share = "-" if c["yes_share"] is None else f"{c['yes_share']:.3f}"
        click.echo(
            f"  {name:<32} phrases {c['phrases_covered']:,} of {result.manifest['coverage']['phrases_total']:,}"
            f"  records whose first answer is yes/no: {c['yes_records']:,} yes, {c['no_records']:,} no"
            f" (yes share {share})"
        )
    click.echo(f"  manifest: {result.manifest_path} (and the table mix_manifests)")
    if export_file:
        import time

        from svit.export import export as run_export

        started = time.perf_counter()
        done = run_export(
            warehouse,
            result.name,
            Path(export_file),
            fmt,
            indent=indent,
            ensure_ascii=ensure_ascii,
            progress=False,
            dataset_name=dataset_name,
            image_root=image_root,
        )
        _report_export(done, time.perf_counter() - started)


@cli.command("drop-mix", short_help="Remove a user mix: its table, manifest and manifest row.")
@click.argument("name")
@warehouse_option
def drop_mix(name: str, warehouse_dir: str | None) -> None:
    """Remove the user mix NAME: its table (and NAME__sources, NAME__coverage) in svit.duckdb,
    its manifest file under mixes/ and its row in mix_manifests.

    The published mixes (mix_svit_core_150k, mix_svit_mix_665k) are models of the project
    and are not dropped. Mixes built earlier from NAME keep their records.

    \b
    Example:
      svit drop-mix referring_boost
    """
    from svit.mix import drop_mix as run_drop_mix

    click.echo(run_drop_mix(resolve_warehouse(warehouse_dir), name).summary())


@cli.command(short_help="Will a model or mix train, and is it clean?")
@click.argument("model")
@click.option(
    "--family",
    type=click.Choice(["llava-1.5", "llava-next", "qwen2-vl", "qwen2.5-vl", "internvl"]),
    default="llava-1.5",
    show_default=True,
    help="The model family to be trained: its rule for <image> placeholders, and whose token counts apply.",
)
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    help="The trainer's cut-off in tokens: records over it are found from `svit tokens`' counts for --family.",
)
@click.option(
    "--benchmarks",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="A folder of benchmark lists, one CSV/JSON file per benchmark with coco_id, image, vg_id or question "
    "columns: records using their images or holding their questions are found (docs/check.md).",
)
@allow_stale_option
@warehouse_option
def check(
    model: str,
    family: str,
    max_length: int | None,
    benchmarks: Path | None,
    allow_stale: bool,
    warehouse_dir: str | None,
) -> None:
    """Evaluate the check rules on MODEL (a model, a mix or an ingested LLaVA file).

    Every finding goes to the table check_results (model, record, rule, severity, detail);
    a summary per rule is printed and written as Markdown and HTML to
    <warehouse>/report/check_<MODEL>.md / .html. Exit status 1 when an error-severity rule
    finds a record, so it can gate a training job. Rules that need a table not computed
    yet (image_files, record_tokens) or an option (--max-length, --benchmarks) are skipped,
    and the summary says so. The rules:
    docs/check.md.

    \b
    Example:
      svit check llava_v1_5_mix665k
      svit check my_mix --family qwen2.5-vl --max-length 8192
      svit check my_mix --benchmarks benchmarks/
    """
    from svit.check import check as run_check
    from svit.check import summary_lines

    warehouse = resolve_warehouse(warehouse_dir)
    with reading(warehouse, allow_stale, named=(model,)):
        result = run_check(warehouse, model, family, max_length, benchmarks)
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"  report: {result.report} (and .html); every finding: the table check_results")
    if result.errors:
        raise SvitError(f"{model}: {result.errors:,} findings of error severity (see above)")


@cli.command(short_help="Run read-only SQL over tables and models.")
@click.argument("query", required=False)
@click.option(
    "--tables",
    "list_relations",
    is_flag=True,
    help=(
        "List the relations to query, one a line with a description: the warehouse tables, then the "
        "marts and mixes in svit.duckdb (not dbt's internal staging and intermediate models)."
    ),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help=(
        "table: aligned columns, cells cut at 60 characters, the first 1,000 rows; "
        "csv: every row, full values; json: an array of objects, every row, full values."
    ),
)
@click.option(
    "--no-models",
    is_flag=True,
    help=(
        "Do not attach svit.duckdb (the dbt models): query the Parquet tables only, e.g. while a build holds its lock."
    ),
)
@allow_stale_option
@warehouse_option
def sql(
    query: str | None,
    fmt: str,
    warehouse_dir: str | None,
    list_relations: bool = False,
    no_models: bool = False,
    allow_stale: bool = False,
) -> None:
    """Run read-only SQL over the warehouse tables and models.

    Tables (images, turns, boxes, ...) and dbt models are queried by bare name; partition
    columns (task, source, split) are ordinary columns. Only queries run (SELECT, WITH,
    DESCRIBE, SHOW, EXPLAIN); of several statements, the last one's result is printed.
    --tables lists what there is to query (`describe TABLE` gives its columns).

    \b
    Example:
      svit sql --format csv "select task, count(*) as turns from turns group by task"
      svit sql --tables
    """
    import os

    from svit.sql import list_tables, run_sql

    if (query is None) == (not list_relations):  # one line, not click's usage block
        raise SvitError("usage: svit sql [OPTIONS] QUERY, or svit sql --tables to list what there is to query")
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")
    warehouse = resolve_warehouse(warehouse_dir)
    try:
        with reading(warehouse, allow_stale, models=not no_models, tables_only="--no-models"):
            if list_relations:
                list_tables(warehouse, out, models=not no_models)
            else:
                run_sql(warehouse, query, fmt, out, models=not no_models)
        out.flush()
    except BrokenPipeError:  # `svit sql ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


@cli.command(short_help="Run every stage on the bundled sample corpus.")
@warehouse_option
def demo(warehouse_dir: str | None) -> None:
    """Run every stage that exists on the bundled sample corpus.

    \b
    Example:
      svit demo --warehouse demo-wh
    """
    from svit.demo import run_demo

    run_demo(resolve_warehouse(warehouse_dir), BUNDLED_SAMPLE)


def main() -> None:
    """Entry point: SvitError becomes `svit: <message>` on stderr and exit status 1 (one line;
    for `svit sql`, DuckDB's hints follow it, indented)."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("svit: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SvitError as exc:
        click.echo(f"svit: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
