"""The grounding syntaxes an output can write referring boxes in (docs/models.md, "Groundings").

The LLaVA models always hold SVIT's referring records as BAAI published them (`svit`).
Another grounding is chosen per output: a mix recipe's `grounding:` key, `svit export
--grounding`. Either rewrites the records whose lineage says they are referring blocks,
from int_referring_grounded (macros/grounding.sql: regrounded_records), so the choice of one
output never changes another's.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from svit.core.dbt import load_dbt_plugins
from svit.core.errors import SvitError
from svit.core.macros import render_with_macros

DEFAULT = "svit"
GROUNDED_VIEW = "int_referring_grounded"


@dataclass(frozen=True)
class Grounding:
    name: str  # the interface name (recipes, --grounding, manifests)
    column: str | None  # int_referring_grounded's column; None: the published text itself
    needs_size: bool  # its numbers are computed from the image's width and height
    keeps_instruction: bool  # a question keeps the instruction asking for boxes
    summary: str


GROUNDINGS = {
    g.name: g
    for g in (
        Grounding("svit", None, True, True, "as published: 0..1 on the image padded to a square"),
        Grounding("original", "text_original", False, True, "0..1 on the original image, as in SVIT's data/"),
        Grounding("pixels", "text_pixels", True, True, "integer pixels of the original image"),
        Grounding("qwen-vl", "text_qwen_vl", True, True, "<ref>phrase</ref><box>(x1,y1),(x2,y2)</box>, 0..1000"),
        Grounding("qwen2-vl", "text_qwen2_vl", True, True, "Qwen2-VL's special tokens, 0..1000"),
        Grounding("qwen2.5-vl", "text_qwen2_5_vl", True, True, "Qwen2-VL's tokens, pixels of the resized image"),
        Grounding("internvl", "text_internvl", True, True, "<ref>phrase</ref><box>[[x1, y1, x2, y2]]</box>, 0..1000"),
        Grounding("plain-phrase", "text_plain_phrase", False, False, "the phrase, no box and no box instruction"),
    )
}


def grounding(name: str, where: str) -> Grounding:
    """The grounding called `name`; SvitError naming `where` it was asked for and the choices."""
    if name not in GROUNDINGS:
        raise SvitError(f"{where}: unknown grounding {name!r}; choose one of {', '.join(GROUNDINGS)}")
    return GROUNDINGS[name]


def described(g: Grounding, con: duckdb.DuckDBPyConnection, grounded: str) -> dict:
    """What a manifest records of a grounding: its name, and for qwen2.5-vl the resize limits
    its boxes were computed with (read from the view `grounded`, which was built with them)."""
    record: dict = {"name": g.name}
    if g.name == "qwen2.5-vl":
        load_dbt_plugins(con)  # the view reads int_turns_rendered, which calls a plugin function
        row = con.execute(f"select qwen_min_pixels, qwen_max_pixels from {grounded} limit 1").fetchall()
        if row:  # the view is empty without referring data: nothing was computed with them
            record["min_pixels"], record["max_pixels"] = row[0]
    return record


def regrounded_sql(records: str, g: Grounding, grounded: str, skip: str = "false") -> str:
    """A query giving `records` (a relation or subquery with the LLaVA columns and SVIT lineage)
    in grounding `g`, from the view `grounded` (int_referring_grounded, qualified as the caller
    reads it)."""
    if g.column is None:
        return f"select * from {records}"
    return render_with_macros(
        "{{ regrounded_records(records, grounded, column, keep_instruction=keep, skip=skip) }}",
        {"records": records, "grounded": grounded, "column": g.column, "keep": g.keeps_instruction, "skip": skip},
    )


def missing_sizes(con: duckdb.DuckDBPyConnection, records: str, images: str) -> int:
    """How many referring records of `records` have an image whose size the warehouse does not know
    (`images`: stg_svit__images, as the caller reads it)."""
    return con.execute(
        f"select count(*) from {records} as r left join {images} as i on r.image_id = i.image_id "
        "where r.task = 'referring_qa' and (i.width is null or i.height is null)"
    ).fetchall()[0][0]


def check_sizes(g: Grounding, con: duckdb.DuckDBPyConnection, records: str, images: str, name: str) -> None:
    """SvitError when `g` needs image sizes that some referring record of `name` lacks."""
    if not g.needs_size or g.column is None:
        return
    missing = missing_sizes(con, records, images)
    if missing:
        raise SvitError(
            f"{name}: {missing:,} referring records have an image without a known size, which grounding "
            f"{g.name} needs; ingest Visual Genome's image_data.json with the SVIT files, or choose "
            "original or plain-phrase"
        )
