"""`svit demo`: every stage that exists, run on the bundled sample corpus."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click

from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse

DEMO_IMAGES = "sample_images"  # under the warehouse: the bundled sample's image files, written by the demo


def _stages(warehouse: Warehouse, corpus: Path) -> list[tuple[str, Callable[[], str]]]:
    """The pipeline in order; each stage returns a one-line summary."""

    def ingest() -> str:
        from ingest.pipeline import run_ingest

        llava = tuple(sorted((corpus / "llava").glob("*.json")))
        report = run_ingest(corpus, llava, warehouse, progress=False)
        return _table_summary(warehouse) + (" (up to date)" if report.up_to_date else "")

    def build() -> str:
        from svit.workflows import build_with_manifests

        timings, _ = build_with_manifests(warehouse, quiet=True)
        models = sum(t.kind == "model" for t in timings)
        tests = sum(t.kind in ("test", "unit_test") for t in timings)
        return f"{models} dbt models built, {tests} tests passed ({warehouse.duckdb_path.name})"

    def export() -> str:
        from svit.export import export as run_export

        exports = warehouse.root / "exports"
        exports.mkdir(exist_ok=True)  # the demo's own folder; an export never creates one
        result = run_export(warehouse, "llava_svit_all", exports / "llava_svit_all.json", "llava", progress=False)
        return (
            f"{result.records:,} records of llava_svit_all -> {result.out} ({result.bytes / 1e6:,.1f} MB, LLaVA JSON)"
        )

    def images() -> str:
        import json

        from svit.images import run_images
        from synth.images import write_images

        # The sample's images are written, not shipped: one small file per path its records
        # name, with the planted defects `svit images` reports (the same as `svit sample --with-images`).
        seed = json.loads((corpus / "GROUND_TRUTH.json").read_text())["generator"]["seed"]
        folder = warehouse.root / DEMO_IMAGES
        write_images(corpus, seed, folder)
        result = run_images(warehouse, folder, progress=False)
        problems = ", ".join(f"{c} {n}" for c, n in sorted(result.categories.items()))
        return f"{result.paths:,} image paths checked under {folder} ({problems}); table image_files"

    def stats() -> str:
        from svit.stats import run_stats

        report = run_stats(warehouse, warehouse.root / "report")
        return f"report in {report.out_dir / 'report.html'} ({len(report.files)} files)"

    return [("ingest", ingest), ("build", build), ("export", export), ("images", images), ("stats", stats)]


def _table_summary(warehouse: Warehouse) -> str:
    """Row counts of the main tables, in one line."""
    import duckdb

    con = duckdb.connect()
    parts = []
    for name in ("images", "conversations", "turns", "boxes", "llava_records", "rejects"):
        rows = con.sql(
            f"select count(*) from read_parquet('{warehouse.root / name}/**/*.parquet', union_by_name = true)"
        ).fetchall()[0][0]
        parts.append(f"{rows:,} {name}")
    return ", ".join(parts)


def run_demo(warehouse: Warehouse, corpus: Path) -> None:
    """Run the stages in order, one line each."""
    if not (corpus / "data").is_dir():
        raise SvitError(f"the bundled sample corpus is missing at {corpus}; reinstall the package")
    click.echo(f"svit demo: sample corpus {corpus}")
    click.echo(f"svit demo: warehouse {warehouse.root}")
    for name, stage in _stages(warehouse, corpus):
        started = time.perf_counter()
        summary = stage()
        click.echo(f"  {name:<8} {time.perf_counter() - started:6.1f}s  {summary}")
