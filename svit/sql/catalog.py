"""`svit sql --tables`: the relations a user queries, one line each with what it holds.

`show tables` lists everything the session sees, the internal relations too (the dbt staging
and intermediate models, the seeds, the companions a user mix writes beside its table). This
lists only the warehouse tables (svit.core.tables.TABLES, described here) and the marts and
mixes in svit.duckdb (described by the first sentence of their dbt `.yml` description).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from svit.core.models_db import COMMAND_TABLES, MIX_MANIFESTS
from svit.core.session import Session
from svit.core.tables import TABLES

# One line per warehouse table (docs/warehouse.md has the columns).
TABLE_DESCRIPTIONS: dict[str, str] = {
    "images": "One row per Visual Genome image: size, folder, path, COCO and Flickr ids.",
    "conversations": "One row per original SVIT conversation block, partitioned by task.",
    "turns": "One row per SVIT turn: role (human / gpt, as LLaVA spells them) and text, partitioned by task.",
    "boxes": "One row per box in a referring turn: phrase, coordinates as written, offsets.",
    "llava_records": "One row per record of an ingested LLaVA file, partitioned by source.",
    "llava_turns": "One row per turn of a LLaVA record: role (human / gpt) and text, partitioned by source.",
    "llava_media": "One row per image or video of a LLaVA record, in its order, partitioned by source.",
    "vg_objects": "Visual Genome objects: box, names and synsets.",
    "vg_regions": "Visual Genome region descriptions: phrase and box.",
    "coco_captions": "COCO captions, partitioned by split.",
    "rejects": "One row per input record the ingest refused, with the reason.",
    "sources": "One row per declared source: path, checksum, records, when it was ingested.",
    "manifest": "One row per source for the run that made the current snapshot.",
}
USER_MIX_DESCRIPTION = "A mix built by `svit mix`"

# dbt's internal relations: staging and intermediate models, `_`-prefixed names, and the
# `<name>__...` companions (a user mix's __sources / __coverage, dbt's __dbt_tmp).
_INTERNAL = re.compile(r"^(?:stg_|int_|_)|__")
_FIRST_SENTENCE = re.compile(r"^(.*?[.!?])(?=\s|$)", re.S)


def _first_sentence(text: str) -> str:
    text = " ".join(str(text).split())
    match = _FIRST_SENTENCE.match(text)
    return match.group(1) if match else text


def model_descriptions(project_dir: Path | None = None) -> tuple[dict[str, str], set[str]]:
    """The first sentence of each model's description in models/**/_*.yml, and the seeds' names."""
    import yaml

    if project_dir is None:
        from svit.core.dbt import PROJECT_DIR

        project_dir = PROJECT_DIR
    descriptions: dict[str, str] = {}
    for path in sorted((project_dir / "models").rglob("_*.yml")):
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        models = doc.get("models") if isinstance(doc, dict) else None
        for model in models or []:
            if isinstance(model, dict) and model.get("name") and model.get("description"):
                descriptions[str(model["name"])] = _first_sentence(model["description"])
    seeds = {p.stem for p in (project_dir / "seeds").glob("*.csv")}
    return descriptions, seeds


def user_relations(session: Session) -> list[tuple[str, str]]:
    """(name, one-line description) for the warehouse tables, then the marts and mixes."""
    rows = [(t, TABLE_DESCRIPTIONS.get(t, "")) for t in session.tables]
    if not session.models:
        return rows
    descriptions, seeds = model_descriptions()
    user_mixes = _user_mixes(session)
    for name in session.models:
        if _INTERNAL.search(name) or name in seeds or name in TABLES or COMMAND_TABLES.get(name, "") is None:
            continue
        if name in COMMAND_TABLES:
            description = COMMAND_TABLES[name]
        elif name in descriptions:
            description = descriptions[name]
        elif name in user_mixes:
            recipe = user_mixes[name]
            description = f"{USER_MIX_DESCRIPTION} (recipe {recipe})." if recipe else f"{USER_MIX_DESCRIPTION}."
        else:
            description = ""
        rows.append((name, description))
    return rows


def _user_mixes(session: Session) -> dict[str, str]:
    """The user mixes mix_manifests records, with their recipe file."""
    if MIX_MANIFESTS not in session.models:
        return {}
    try:
        found = session.con.execute(f"select mix, recipe_file from {MIX_MANIFESTS}").fetchall()
    except duckdb.Error:
        return {}
    return {str(mix): str(recipe or "") for mix, recipe in found}


def format_relations(rows: list[tuple[str, str]]) -> str:
    """One line per relation: its name padded to the longest, then its description."""
    width = max((len(name) for name, _ in rows), default=0)
    return "".join(f"{name:<{width}}  {description}".rstrip() + "\n" for name, description in rows)
