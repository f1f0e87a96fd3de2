"""Where an export's records come from: every model as one query with the same columns.

- a dbt mart or mix in `<warehouse>/svit.duckdb` with the LLaVA columns (`id`, `image`,
  `conversations`, `record_order`), in `record_order`; mixes of LLaVA files also carry each
  record's id JSON (integer or string), image presence and extra keys;
- an ingested LLaVA file, by its model name (the `source` partition of `llava_records` /
  `llava_turns`), in `record_index` order.

Every query gives: `id` (text), `id_json` (the id as JSON: `"a1"` or `12`), `has_image`
(the record has media), `image` (its one image, when the record names it as a string),
`media` (how the record wrote its media keys when not so: `{"image": [...]}`, `{"video": ...}`;
null otherwise), `extra` (the record's other keys as a JSON object, or null), `conversations`
(a list of `{from, value}`, plus `extra` where some turn has other keys) and `ord` (the
order); the SVIT marts only `id`, `image`, `conversations` and `ord` (string ids, an image or
null, no extra keys), the rest being made where a format needs it (svit/export/run.py: `_frame`).
Image sizes are looked up separately (`image_sizes`), for the formats that write them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import polars as pl

from svit.core.dbt import load_dbt_plugins
from svit.core.errors import SvitError
from svit.core.groundings import DEFAULT as GROUNDING_DEFAULT
from svit.core.groundings import GROUNDED_VIEW, check_sizes, described, grounding, regrounded_sql
from svit.core.image_sizes import image_sizes_sql
from svit.core.models_db import IMAGE_FILES, LLAVA_COLUMNS, MIX_MANIFESTS, MODEL_PARTS, MODELS_CATALOG
from svit.core.snapshots import current_snapshot
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse

# The SVIT lineage of a record, which a grounding needs to find its referring block.
LINEAGE = frozenset({"task", "image_id", "block"})


@dataclass
class Source:
    """A model's records: SQL relations giving the columns above."""

    name: str
    kind: str  # "mart" or "llava_file"
    parts: list[str]  # relations read one after the other (each in order; checked while reading)
    sorted_sql: str  # the whole model, sorted: the fallback when a part is not in order
    count_sql: str
    record_extras: frozenset[str] = frozenset()  # the keys records have besides id, image, conversations
    turn_extras: bool = False  # some turn has keys besides from, value
    media: bool = False  # some record names its media otherwise than by one `image` string (`media`, `layout`)
    lineage: bool = False  # has the SVIT lineage (task, image_id, block) a grounding needs
    relations: tuple[str, ...] = ()  # a mart's tables behind `parts`, and the columns they are read as
    columns: str = ""
    # How its referring records write boxes, as a manifest records it ({"name": ...}); None: an
    # ingested file, written as it was.
    grounding: dict | None = None


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, set[str]]]:
    """LLaVA-shaped models in svit.duckdb: name -> (qualified name, its columns)."""
    attached = con.execute("select 1 from duckdb_databases() where database_name = ?", [MODELS_CATALOG]).fetchall()
    if not attached:
        return {}
    rows = con.execute(
        "select schema_name, table_name, list(column_name) from duckdb_columns() where database_name = ? group by all",
        [MODELS_CATALOG],
    ).fetchall()
    return {
        table: (f"{MODELS_CATALOG}.{sql_ident(schema)}.{sql_ident(table)}", set(columns))
        for schema, table, columns in sorted(rows)
        if LLAVA_COLUMNS <= set(columns)
    }


def available_models(warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(set(_marts(con)) | set(warehouse.llava_models()))


def resolve_source(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, model: str) -> Source:
    """The Source of `model`; SvitError listing the models when there is none by that name."""
    marts = _marts(con)
    if model in marts:
        return _mart_source(con, marts, model)
    if model in warehouse.llava_models():
        return _file_source(con, current_snapshot(warehouse.root) or warehouse.root, model)
    known = available_models(warehouse, con)
    hint = ", ".join(known) if known else "none: run `svit ingest` and `svit build` first"
    raise SvitError(f"no model named {model!r} in {warehouse.root}; models: {hint}")


def _mart_source(con: duckdb.DuckDBPyConnection, marts: dict, model: str) -> Source:
    qualified, columns = marts[model]
    # Mixes of LLaVA files carry each record's id JSON, image presence and extra keys.
    mixed = {"id_json", "has_image", "extra"} <= columns
    # The SVIT marts have string ids and no extra keys: `id_json`, `has_image` and `extra` are
    # left to Polars (svit/export/run.py), which makes them only for the formats that use them.
    select = (
        "id, id_json::varchar as id_json, has_image, image, extra::varchar as extra, "
        + ("media, " if "media" in columns else "null::varchar as media, ")
        if mixed
        else "id, image, "
    ) + "conversations, record_order as ord"
    parts = [p for p in MODEL_PARTS.get(model, ()) if p in marts]
    if len(parts) != len(MODEL_PARTS.get(model, ())) or not parts:
        parts = [model]
    record_extras = _extra_keys(con, qualified) if mixed else frozenset()
    media = "media" in columns and con.execute(f"select count(media) > 0 from {qualified}").fetchall()[0][0]
    return Source(
        model,
        "mart",
        [f"select {select} from {marts[p][0]}" for p in parts],
        f"select {select} from {qualified} order by record_order",
        "select " + " + ".join(f"(select count(*) from {marts[p][0]})" for p in parts),
        record_extras,
        lineage=LINEAGE <= columns,
        grounding=_held_grounding(con, model),
        relations=tuple(marts[p][0] for p in parts),
        columns=select,
        media=bool(media),
    )


def _extra_keys(con: duckdb.DuckDBPyConnection, relation: str) -> frozenset[str]:
    """The keys the records of `relation` have besides id, image and conversations."""
    rows = con.execute(
        f"select distinct unnest(json_keys(extra::json)) from {relation} where extra is not null"
    ).fetchall()
    return frozenset(k for (k,) in rows)


def _held_grounding(con: duckdb.DuckDBPyConnection, model: str) -> dict:
    """The grounding a model's records are in: a mix's as its manifest records it, else the published one."""
    manifests = f"{MODELS_CATALOG}.main.{MIX_MANIFESTS}"
    if con.execute(
        "select 1 from duckdb_tables() where database_name = ? and table_name = ?", [MODELS_CATALOG, MIX_MANIFESTS]
    ).fetchall():
        row = con.execute(f"select manifest->>'$.grounding' from {manifests} where mix = ?", [model]).fetchall()
        if row and row[0][0]:
            return json.loads(row[0][0])
    return {"name": GROUNDING_DEFAULT}


def in_grounding(con: duckdb.DuckDBPyConnection, source: Source, name: str) -> Source:
    """`source` with its referring records rewritten in grounding `name` (svit/core/groundings.py);
    SvitError when the model cannot take it."""
    g = grounding(name, "--grounding")
    if source.grounding is None or not source.lineage:
        raise SvitError(
            f"--grounding rewrites the referring records of SVIT models and mixes; {source.name} has no SVIT "
            "lineage (an ingested file is exported as it was written)"
        )
    grounded = f"{MODELS_CATALOG}.main.{GROUNDED_VIEW}"
    held = source.grounding["name"]
    if held == g.name:
        return source
    if held != GROUNDING_DEFAULT:
        raise SvitError(
            f"{source.name} holds grounding {held}; it can be exported in that one only "
            "(build the mix with grounding: svit to export it in others)"
        )
    if not con.execute(
        "select 1 from duckdb_views() where database_name = ? and view_name = ?", [MODELS_CATALOG, GROUNDED_VIEW]
    ).fetchall():
        raise SvitError(f"{GROUNDED_VIEW} is not built: run `svit build` first")
    images = f"{MODELS_CATALOG}.main.stg_svit__images"
    for relation in source.relations:
        check_sizes(g, con, relation, images, source.name)
    load_dbt_plugins(con)  # the view reads int_turns_rendered, which calls a plugin function

    def query(relation: str) -> str:
        return f"select {source.columns} from ({regrounded_sql(relation, g, grounded)}) order by record_order"

    whole = "(" + " union all ".join(f"select * from {r}" for r in source.relations) + ")"
    return replace(
        source,
        parts=[query(r) for r in source.relations],
        sorted_sql=query(whole),
        grounding=described(g, con, grounded),
    )


def _file_source(con: duckdb.DuckDBPyConnection, snapshot: Path, model: str) -> Source:
    records = sql_str(snapshot / "llava_records" / f"source={model}" / "*.parquet")
    turns_dir = snapshot / "llava_turns" / f"source={model}"
    has_turns = any(turns_dir.glob("*.parquet"))
    turn_files = sql_str(turns_dir / "*.parquet")
    turn_extras = bool(
        has_turns and con.execute(f"select count(extra) > 0 from read_parquet({turn_files})").fetchall()[0][0]
    )
    turn = "{'from': role, 'value': text, 'extra': extra}" if turn_extras else "{'from': role, 'value': text}"
    # A file ingested before records kept their media keys has single images only.
    stored = {r[0] for r in con.execute(f"select name from parquet_schema({records})").fetchall()}
    media_column = "r.media, r.layout" if "layout" in stored else "null::varchar as media, null::varchar as layout"
    turns = (
        f"(select record_index, list({turn} order by turn) as turns from read_parquet({turn_files}) group by all)"
        if has_turns
        else '(select null::bigint as record_index, null::struct("from" varchar, "value" varchar)[] as turns '
        "where false)"
    )
    select = (
        "select r.id, case when r.id_type = 'integer' then r.id_json else to_json(r.id)::varchar end as id_json, "
        f"r.has_image, r.image, r.extra, {media_column}, "
        "coalesce(t.turns, []) as conversations, r.record_index as ord "
        f"from read_parquet({records}) r left join {turns} t using (record_index) order by r.record_index"
    )
    record_extras, media = con.execute(
        f"select count(extra) > 0, {'count(media) + count(layout) > 0' if 'layout' in stored else 'false'} "
        f"from read_parquet({records}) r"
    ).fetchall()[0]
    return Source(
        model,
        "llava_file",
        [select],
        select,
        f"select count(*) from read_parquet({records})",
        _extra_keys(con, f"read_parquet({records})") if record_extras else frozenset(),
        turn_extras,
        media=bool(media),
    )


def image_sizes(warehouse: Warehouse, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Image path (as records name it) -> width, height, for every image whose size the warehouse
    knows: the file's own when `svit images` read it, else the metadata's (svit/core/image_sizes.py)."""
    scanned = con.execute(
        "select 1 from duckdb_tables() where database_name = ? and table_name = ?", [MODELS_CATALOG, IMAGE_FILES]
    ).fetchall()
    files = f"{MODELS_CATALOG}.main.{IMAGE_FILES}" if scanned else None
    query = image_sizes_sql(current_snapshot(warehouse.root) or warehouse.root, files)
    if query is None:
        return pl.DataFrame(schema={"image": pl.String, "width": pl.Int32, "height": pl.Int32})
    return pl.from_arrow(con.sql(query).to_arrow_table())
