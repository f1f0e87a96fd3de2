"""COCO caption files (captions_train2017.json, ...) into `coco_captions`."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.duck import copy_input_to_parquet
from ingest.empty_input import is_empty_json
from ingest.sources import Feeds, InputFile
from svit.core.sql import sql_str

_IMAGES = "'STRUCT(id BIGINT, file_name VARCHAR, width INTEGER, height INTEGER)[]'"
_ANNOTATIONS = "'STRUCT(id BIGINT, image_id BIGINT, caption VARCHAR)[]'"


def ingest_captions(
    con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, stage: Path, progress: bool
) -> tuple[int, int, int]:
    """One row per caption with its COCO image's file name and size; the split comes from the file name.

    A COCO file is one JSON object, so DuckDB holds the whole object while it reads it. Its two
    lists are read in two passes, the images first into a temp table of this cursor: both at
    once outgrew ingest's DuckDB memory limit on the captions file of a 4x corpus, each alone
    fits (bench/README.md, "Scaling").
    """
    if is_empty_json(item):
        # No captions; and `[]` is not the object the read below expects.
        return 0, 0, 0
    split = item.path.stem.removeprefix("captions_")
    out = stage / "coco_captions" / f"split={split}"
    out.mkdir(parents=True, exist_ok=True)
    target = out / "coco_captions_0.parquet"

    def listed(key: str, struct: str) -> str:
        return (
            f"select unnest({key}, recursive := true) from read_json({sql_str(feeds.path(item))}, "
            f"format = 'unstructured', columns = {{{key}: {struct}}}, "
            f"maximum_object_size = {max(item.size + (1 << 20), 1 << 24)})"
        )

    with feeds.feeding([item]):
        con.execute(f"create or replace temp table coco_images as {listed('images', _IMAGES)}")
    try:
        written = copy_input_to_parquet(
            con,
            item,
            feeds,
            f"""
            select c.image_id as coco_id, c.id as caption_id, c.caption, i.file_name, i.width, i.height
            from ({listed("annotations", _ANNOTATIONS)}) as c
            left join coco_images as i on i.id = c.image_id
            order by c.image_id, c.id
            """,
            target,
            progress,
        )
    finally:
        con.execute("drop table if exists coco_images")
    return written, written, 0
