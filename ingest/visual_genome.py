"""Visual Genome metadata: image_data.json into `images`, objects and regions into their tables."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.duck import copy_input_to_parquet, execute, sql_str
from ingest.sources import Feeds, InputFile

# image_data.json names the key `image_id` in VG 1.2 and `id` in VG 1.0: take either.
_IMAGE_COLUMNS = (
    "{image_id: 'BIGINT', id: 'BIGINT', url: 'VARCHAR', width: 'INTEGER', height: 'INTEGER', "
    "coco_id: 'BIGINT', flickr_id: 'BIGINT'}"
)


def ingest_image_data(con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, stage: Path, progress: bool) -> tuple[int, int, int]:
    """Write `images`; keep `images_known` for the SVIT image check. Returns read, written, rejected."""
    with feeds.feeding([item]):
        execute(
            con,
            f"""
            create or replace temp table vg_image_rows as
            select ordinality - 1 as record_index, coalesce(image_id, id) as image_id, width, height,
                regexp_extract(url, '/(VG_100K(?:_2)?)/', 1) as folder, coco_id, flickr_id, url
            from read_json({sql_str(feeds.path(item))}, format = 'array', columns = {_IMAGE_COLUMNS}) with ordinality
            """,
            f"read {item.name}",
            item.size,
            progress,
        )
    con.execute(
        """
        create or replace temp table vg_image_problems as
        select record_index, case
            when image_id is null then 'missing "image_id"'
            when width is null or height is null or width <= 0 or height <= 0 then 'missing or non-positive width/height'
            when folder = '' then 'url ' || coalesce(url, 'null') || ' names no VG_100K or VG_100K_2 folder'
            when count(*) over (partition by image_id) > 1 and record_index > min(record_index) over (partition by image_id)
                then 'image_id ' || image_id || ' repeats an earlier record'
        end as problem
        from vg_image_rows
        """
    )
    out = stage / "images"
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select r.image_id, r.width, r.height, r.folder,
                'vg/' || r.folder || '/' || r.image_id || '.jpg' as image_path,
                r.coco_id, r.flickr_id, r.url
            from vg_image_rows r join vg_image_problems p using (record_index)
            where p.problem is null
            order by r.record_index
        ) to {sql_str(out / 'images_0.parquet')} (format parquet, compression zstd)
        """
    )
    con.execute(
        "create or replace table images_known as "
        "select image_id from vg_image_rows r join vg_image_problems p using (record_index) where p.problem is null"
    )
    con.execute(
        """
        insert into rejects
        select ?, ?, r.record_index, null, p.problem, to_json(r)::varchar
        from vg_image_rows r join vg_image_problems p using (record_index)
        where p.problem is not null order by r.record_index
        """,
        [item.name, item.display],
    )
    return _tally(con, "vg_image_rows", "vg_image_problems")


def ingest_objects(con, item: InputFile, feeds: Feeds, stage: Path, progress: bool) -> tuple[int, int, int]:
    """objects.json: one row per object, keyed by image_id and object_id."""
    return _copy_nested(
        con, item, feeds, stage / "vg_objects", progress,
        columns="{image_id: 'BIGINT', objects: 'STRUCT(object_id BIGINT, x INTEGER, y INTEGER, w INTEGER, h INTEGER, names VARCHAR[], synsets VARCHAR[])[]'}",
        nested="objects",
        select="image_id, o.object_id, o.x, o.y, o.w, o.h, o.names, o.synsets",
    )


def ingest_regions(con, item: InputFile, feeds: Feeds, stage: Path, progress: bool) -> tuple[int, int, int]:
    """region_descriptions.json: one row per region description."""
    return _copy_nested(
        con, item, feeds, stage / "vg_regions", progress,
        columns="{id: 'BIGINT', regions: 'STRUCT(region_id BIGINT, image_id BIGINT, phrase VARCHAR, x INTEGER, y INTEGER, width INTEGER, height INTEGER)[]'}",
        nested="regions",
        select="coalesce(o.image_id, id) as image_id, o.region_id, o.phrase, o.x, o.y, o.width, o.height",
    )


def _copy_nested(con, item: InputFile, feeds: Feeds, out: Path, progress: bool, columns: str, nested: str, select: str) -> tuple[int, int, int]:
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{out.name}_0.parquet"
    written = copy_input_to_parquet(
        con, item, feeds,
        f"""
        select {select} from (
            select *, unnest({nested}) as o
            from read_json({sql_str(feeds.path(item))}, format = 'array', columns = {columns})
        )
        """,
        target, progress,
    )
    return written, written, 0


def _tally(con, rows: str, problems: str) -> tuple[int, int, int]:
    total, bad = con.execute(f"select count(*), count(problem) from {rows} join {problems} using (record_index)").fetchall()[0]
    return total, total - bad, bad
