"""COCO caption files (captions_train2017.json, ...) into `coco_captions`."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.duck import copy_input_to_parquet
from ingest.empty_input import is_empty_json
from ingest.sources import Feeds, InputFile
from svit.core.sql import sql_str

_COLUMNS = (
    "{images: 'STRUCT(id BIGINT, file_name VARCHAR, width INTEGER, height INTEGER)[]', "
    "annotations: 'STRUCT(id BIGINT, image_id BIGINT, caption VARCHAR)[]'}"
)


def ingest_captions(
    con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, stage: Path, progress: bool
) -> tuple[int, int, int]:
    """One row per caption with its COCO image's file name and size; the split comes from the file name.

    A COCO file is one JSON object, so DuckDB may read an object as large as the file.
    """
    if is_empty_json(item):
        # No captions; and `[]` is not the object the read below expects.
        return 0, 0, 0
    split = item.path.stem.removeprefix("captions_")
    out = stage / "coco_captions" / f"split={split}"
    out.mkdir(parents=True, exist_ok=True)
    target = out / "coco_captions_0.parquet"
    written = copy_input_to_parquet(
        con,
        item,
        feeds,
        f"""
        with doc as (
            select images, annotations
            from read_json({sql_str(feeds.path(item))}, format = 'unstructured', columns = {_COLUMNS},
                           maximum_object_size = {max(item.size + (1 << 20), 1 << 24)})
        ),
        images as (select unnest(images, recursive := true) from doc),
        captions as (select unnest(annotations, recursive := true) from doc)
        select c.image_id as coco_id, c.id as caption_id, c.caption, i.file_name, i.width, i.height
        from captions c left join images i on i.id = c.image_id
        order by c.image_id, c.id
        """,
        target,
        progress,
    )
    return written, written, 0
