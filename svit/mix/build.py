"""Building a mix: a published one by name, or a user's recipe through the generic dbt models."""

from __future__ import annotations

from pathlib import Path

from svit.core import snapshots, word_counts
from svit.core.dbt import DbtProcess, built_models, run_dbt, started_dbt
from svit.core.errors import SvitError
from svit.core.groundings import check_sizes
from svit.core.models_db import built_relations, connect
from svit.core.sql import sql_ident
from svit.core.warehouse import Warehouse
from svit.mix.manifest import PUBLISHED, MixResult, missing_files, write_manifest, write_published_manifests
from svit.mix.recipe import GENERIC_MODELS, GENERIC_PARENTS, Recipe, load_recipe
from svit.mix.record_cache import forget_record_caches


def build_mix(
    warehouse: Warehouse,
    target: str,
    quiet: bool = True,
    replace: bool = False,
    process: DbtProcess | None = None,
) -> MixResult:
    """Build a published mix (by name) or a recipe file, then write its manifest; the warehouse's
    write lock is held throughout, the manifest being written into svit.duckdb too. With
    `replace`, a user mix of the recipe's name built from another recipe is rebuilt from this one.
    `process`: dbt's interpreter, started by the caller (`started_dbt`), else started here."""
    with snapshots.write_lock(warehouse.root, "mix"), started_dbt(process) as dbt:
        return _build(warehouse, target, quiet, replace, dbt)


# What `svit mix NAME` rebuilds for a published mix: the mix, and for the core the table of
# matches it reads (int_svit_core_150k_matched), which a warehouse built before that table
# existed, or built with `svit build --select`, may not hold.
PUBLISHED_MODELS = {
    "mix_svit_core_150k": ("int_svit_core_150k_matched", "mix_svit_core_150k"),
    "mix_svit_mix_665k": ("mix_svit_mix_665k",),
}


def _build(warehouse: Warehouse, target: str, quiet: bool, replace: bool, dbt: DbtProcess) -> MixResult:
    if target in PUBLISHED:
        if replace:
            raise SvitError(f"--replace is for recipe files: {target} is a published mix, always built by its own rule")
        return _build_published(warehouse, target, quiet, dbt)
    path = Path(target)
    if not path.is_file():
        raise SvitError(f"{target}: no such recipe file (or published mix: {', '.join(PUBLISHED)})")
    recipe = load_recipe(path, warehouse, replace)
    _require_built(warehouse, GENERIC_PARENTS)
    _require_sizes(warehouse, recipe)
    if any(s.select == "coverage" for s in recipe.sources):
        _require_phrases(warehouse, recipe)
    word_counts.load_in_background()  # for the manifest, while dbt runs
    run_dbt(
        warehouse, "build", ("--select", *GENERIC_MODELS), quiet=quiet, mix_recipe=recipe.dbt_environment(), process=dbt
    )
    return write_manifest(warehouse, recipe.name, "user", recipe)


def _build_published(warehouse: Warehouse, name: str, quiet: bool, dbt: DbtProcess) -> MixResult:
    _require_built(
        warehouse, {"mix_svit_core_150k": ("llava_svit_all",), "mix_svit_mix_665k": ("mix_svit_core_150k",)}[name]
    )
    absent = missing_files(warehouse, name)
    if absent:
        how = {
            "svit_core_150k": "format/llava-v1.5/SVIT_core_150K.json in the source directory",
            "llava_v1_5_mix665k": "--llava llava_v1_5_mix665k.json",
            "llava_instruct_150k": "--llava llava_instruct_150k.json (it tells the LLaVA-Instruct part apart)",
        }
        raise SvitError(
            f"{name} needs {', '.join(absent)} ingested: `svit ingest` with " + "; ".join(how[f] for f in absent)
        )
    # As `svit build` does, limited to this mix: one way to build a published mix and write its manifest.
    forget_record_caches(warehouse)
    word_counts.load_in_background()  # for the manifest, while dbt runs
    timings = run_dbt(warehouse, "build", ("--select", *PUBLISHED_MODELS[name]), quiet=quiet, process=dbt)
    [result] = [m for m in write_published_manifests(warehouse, built_models(timings)) if m.name == name]
    return result


def _require_built(warehouse: Warehouse, names) -> None:
    missing = [n for n in names if n not in built_relations(warehouse)]
    if missing:
        raise SvitError(f"{', '.join(missing)} not built in {warehouse.duckdb_path}: run `svit build` first")


def _require_sizes(warehouse: Warehouse, recipe: Recipe) -> None:
    """A grounding computed from image sizes needs them for every referring record a source may give."""
    con = connect(warehouse, read_only=True)
    try:
        for source in recipe.sources:
            if source.kind != "llava_file" and not source.grounded:
                check_sizes(
                    recipe.grounding, con, sql_ident(source.name), "stg_svit__images", f"{recipe.path}: {source.name}"
                )
    finally:
        con.close()


def _require_phrases(warehouse: Warehouse, recipe: Recipe) -> None:
    """`select: coverage` needs object phrases: SVIT's referring data, ingested and built."""
    con = connect(warehouse, read_only=True)
    try:
        [(phrases,)] = con.execute("select count(*) from int_object_phrases").fetchall()
    finally:
        con.close()
    if phrases == 0:
        raise SvitError(
            f"{recipe.path}: select: coverage needs object phrases, and {warehouse.root} has none "
            "(ingest SVIT's referring_qa data, then `svit build`)"
        )
