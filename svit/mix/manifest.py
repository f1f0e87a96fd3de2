"""Mix manifests: what a mix holds and what it was made from, as JSON and as a table.

Every mix gets one, written after dbt built it: `<warehouse>/mixes/<name>.manifest.json`
and a row of the table `mix_manifests` in svit.duckdb. `svit build` writes those of the
published mixes it built, `svit mix` those of the mix it built; both through
`write_published_manifests` / `write_manifest` here, so the two cannot differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from svit import __version__
from svit.core import word_counts
from svit.core.groundings import DEFAULT as DEFAULT_GROUNDING
from svit.core.groundings import GROUNDED_VIEW, GROUNDINGS, described
from svit.core.models_db import MIX_MANIFESTS as MANIFEST_TABLE
from svit.core.models_db import connect
from svit.core.warehouse import Warehouse
from svit.mix.drops import manifest_drops

if TYPE_CHECKING:
    from svit.mix.recipe import Recipe

# The published mixes and the ingested LLaVA files each is made from; without all of them
# the model is built empty and gets no manifest.
PUBLISHED_FILES: dict[str, tuple[str, ...]] = {
    "mix_svit_core_150k": ("svit_core_150k",),
    "mix_svit_mix_665k": ("llava_v1_5_mix665k", "llava_instruct_150k", "svit_core_150k"),
}
PUBLISHED = tuple(PUBLISHED_FILES)


@dataclass
class MixResult:
    name: str
    records: int
    manifest: dict
    manifest_path: Path
    replaced: str | None = None  # the recipe file of the mix of this name the build replaced (--replace)


# --------------------------------------------------------------------------- the warehouse


def missing_files(warehouse: Warehouse, name: str) -> list[str]:
    """The LLaVA files the published mix `name` needs that are not ingested."""
    present = set(warehouse.llava_models())
    return [f for f in PUBLISHED_FILES[name] if f not in present]


# --------------------------------------------------------------------------- writing


def write_published_manifests(warehouse: Warehouse, built: Iterable[str]) -> list[MixResult]:
    """Manifests of the published mixes among the models `built`, skipping those built empty
    because a LLaVA file they need is not ingested."""
    built = set(built)
    return [
        write_manifest(warehouse, name, "published", None)
        for name in PUBLISHED
        if name in built and not missing_files(warehouse, name)
    ]


def write_manifest(warehouse: Warehouse, name: str, kind: str, recipe: Recipe | None) -> MixResult:
    """Write the manifest of the mix table `name` (a published mix, or the user mix of `recipe`)."""
    con = connect(warehouse, read_only=False)
    try:
        word_counts.register(con)
        records = con.execute(f'select count(*) from "{name}"').fetchone()[0]
        sources = _user_sources(con, name) if recipe else _published_sources(con, name)
        if recipe:
            for entry, source in zip(sources, recipe.sources, strict=True):
                # Short: fewer records than `take` asks for, copies aside unless upsample: true made them to fill it.
                given = entry["selected"] if source.upsample else entry["selected"] - entry["upsampled"]
                entry.update(
                    kind=source.kind,
                    take=source.take_text(),
                    filter=source.filter,
                    select=source.select,
                    yes_no_ratio=source.yes_no_ratio,
                    upsample=source.upsample,
                    repeat=source.repeat,
                    drops=source.drops.as_manifest() if source.drops else None,
                    short_by=max(0, entry["asked"] - given),
                )
        manifest = {
            "mix": name,
            "kind": kind,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "recipe_file": str(recipe.path.resolve()) if recipe else None,
            "recipe": recipe.document if recipe else _published_recipe(name),
            "recipe_sha256": hashlib.sha256(recipe.path.read_bytes()).hexdigest() if recipe else None,
            **({"recipe_digest": recipe.digest} if recipe else {}),  # what binds the name (svit/mix/recipe.py)
            "records": records,
            # How the referring records write their boxes, with the parameters that change the numbers.
            "grounding": described(recipe.grounding if recipe else GROUNDINGS[DEFAULT_GROUNDING], con, GROUNDED_VIEW),
            "sources": sources,
            "records_per_task": dict(
                con.execute(f"select coalesce(task, 'none'), count(*) from \"{name}\" group by 1 order by 1").fetchall()
            ),
            "records_per_image_prefix": dict(
                con.execute(f'select image_prefix, count(*) from "{name}" group by 1 order by 1').fetchall()
            ),
            "words_per_role": _words_per_role(con, name),
        }
        if recipe:
            manifest["coverage"] = _coverage(con, name)
        manifest["inputs"] = _inputs(warehouse)
        snap = warehouse.snapshot()
        manifest["snapshot"] = snap.name if snap is not None else None
        manifest["tool_versions"] = _tool_versions()
        con.execute(
            f"create table if not exists {MANIFEST_TABLE} (mix varchar, kind varchar, built_at varchar, "
            "recipe_file varchar, records bigint, manifest json)"
        )
        con.execute(f"delete from {MANIFEST_TABLE} where mix = ?", [name])
        con.execute(
            f"insert into {MANIFEST_TABLE} values (?, ?, ?, ?, ?, ?)",
            [name, kind, manifest["built_at"], manifest["recipe_file"], records, json.dumps(manifest)],
        )
    finally:
        con.close()
    out = warehouse.root / "mixes" / f"{name}.manifest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return MixResult(name, records, manifest, out, recipe.replaces if recipe else None)


def _words_per_role(con, name: str) -> dict[str, int]:
    """Words per role (`from`) over the mix's turns, as svit stats and the recipe filters count
    them (macros/word_count.sql), by ingest's compiled count (svit/core/word_counts.py: the
    same numbers, faster than the SQL macro). The records mix_svit_mix_665k keeps of
    llava_v1_5_mix665k are that file's turns as they are, whose words ingest counted
    (stg_llava__turns): read, not counted again (bench/README.md)."""
    counted = f"""
        select t."from" as role, {word_counts.SQL_FUNCTION}(t.value) as words
        from (select unnest(conversations) as t from "{name}" where {{where}})
    """
    if name == "mix_svit_mix_665k":
        kept = "llava_v1_5_mix665k"
        turns = f"""
            select role, words from stg_llava__turns
            where llava_file = '{kept}' and record_index in (
                select source_record_index from "{name}" where mix_source = '{kept}'
            )
            union all
            {counted.format(where=f"mix_source <> '{kept}'")}
        """
    else:
        turns = counted.format(where="true")
    return dict(con.execute(f"select role, sum(words)::bigint from ({turns}) group by 1 order by 1").fetchall())


def _user_sources(con, name: str) -> list[dict]:
    rows = con.execute(
        f"""
        select s.source_number, s.source, s.available, s.dropped, s.dropped_by, s.filtered, s.asked,
            count(m.source_number) as selected, count(m.source_number) filter (where m.repeat_index > 0) as upsampled
        from "{name}__sources" s left join "{name}" m using (source_number)
        group by all order by s.source_number
        """
    ).fetchall()
    return [
        {
            "source": source,
            "available": available,
            "dropped": dropped,
            "dropped_by": manifest_drops(dropped_by),
            "filtered": filtered,
            "asked": asked,
            "selected": selected,
            "upsampled": upsampled,
        }
        for _, source, available, dropped, dropped_by, filtered, asked, selected, upsampled in rows
    ]


def _coverage(con, name: str) -> dict:
    """The mix beside the official core set (models/marts/mixes/mix_user_coverage.sql)."""
    rows = con.execute(
        f"""select mix, records, phrases_covered, phrases_total, phrase_share, yes_records, no_records, yes_share,
                   records_per_task
            from "{name}__coverage" order by position"""
    ).fetchall()
    mixes = {
        mix: {
            "records": records,
            "phrases_covered": covered,
            "phrase_share": share,
            "yes_records": yes,
            "no_records": no,
            "yes_share": yes_share,
            "records_per_task": dict(sorted(json.loads(per_task).items())),
        }
        for mix, records, covered, _, share, yes, no, yes_share, per_task in rows
    }
    return {
        "phrases_total": rows[0][3] if rows else 0,
        "phrases": "distinct object phrases (int_object_phrases) the questions name",
        "yes_no": "records whose first answer is a Yes / No answer (macros/yes_no.sql)",
        "mixes": mixes,
    }


def _published_sources(con, name: str) -> list[dict]:
    if name == "mix_svit_core_150k":
        available, selected = con.execute(
            "select (select count(*) from stg_llava__records where llava_file = 'svit_core_150k'), "
            "(select count(*) from mix_svit_core_150k)"
        ).fetchone()
        unmatched = [
            r[0]
            for r in con.execute(
                "select record_index from stg_llava__records where llava_file = 'svit_core_150k' "
                "and record_index not in (select official_record_index from mix_svit_core_150k) order by 1 limit 100"
            ).fetchall()
        ]
        return [
            {
                "source": "svit_core_150k",
                "kind": "llava_file",
                "available": available,
                "filtered": available,
                "selected": selected,
                "upsampled": 0,
                "unmatched": available - selected,
                "unmatched_record_indexes": unmatched,
            }
        ]
    available, kept, core = con.execute(
        "select (select count(*) from stg_llava__records where llava_file = 'llava_v1_5_mix665k'), "
        "(select count(*) from mix_svit_mix_665k where mix_source = 'llava_v1_5_mix665k'), "
        "(select count(*) from mix_svit_core_150k)"
    ).fetchone()
    return [
        {
            "source": "llava_v1_5_mix665k",
            "kind": "llava_file",
            "available": available,
            "filtered": kept,
            "selected": kept,
            "upsampled": 0,
            "replaced_llava_instruct": available - kept,
        },
        {
            "source": "mix_svit_core_150k",
            "kind": "model",
            "available": core,
            "filtered": core,
            "selected": core,
            "upsampled": 0,
        },
    ]


def _published_recipe(name: str) -> dict:
    if name == "mix_svit_core_150k":
        return {
            "name": name,
            "rule": "the records of the official SVIT_core_150K.json, matched to SVIT blocks by "
            "content and rebuilt from the warehouse; official ids, order and instructions",
        }
    return {
        "name": name,
        "rule": "llava_v1_5_mix665k with the records whose id and turns equal a record of "
        "llava_instruct_150k replaced by mix_svit_core_150k, placed where the first of them was",
    }


def _inputs(warehouse: Warehouse) -> list[dict]:
    """The warehouse's sources as its manifest records them (name, path, bytes, sha256)."""
    return sorted(
        ({k: f[k] for k in ("name", "path", "bytes", "sha256")} for f in warehouse.sources()), key=lambda f: f["name"]
    )


def _tool_versions() -> dict[str, str]:
    versions = {"svit": __version__, "duckdb": duckdb.__version__, "python": platform.python_version()}
    for package in ("dbt-core", "dbt-duckdb"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions
