"""Visual Genome metadata: image_data.json into `images`, objects and regions into their tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from ingest.duck import copy_input_to_parquet, execute
from ingest.sources import Feeds, InputFile
from svit.core.errors import InputError, first_line
from svit.core.sql import sql_str

# image_data.json names the key `image_id` in VG 1.2 and `id` in VG 1.0: take either.
# Its integers are read as JSON and checked before they are cast: a typed read would stop
# on a string with a message naming no record, and round 800.5 to 800 without a word.
_IMAGE_INTEGERS = {
    "image_id": "bigint",
    "id": "bigint",
    "width": "integer",
    "height": "integer",
    "coco_id": "bigint",
    "flickr_id": "bigint",
}

# A damaged VG file is not guessed around: it is fixed or downloaded again.
_FIX = "fix the file or download it again"


def ingest_image_data(
    con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, stage: Path, progress: bool
) -> tuple[int, int, int]:
    """Write `images`; keep `images_known` for the SVIT image check. Returns read, written, rejected.

    A file that is not a JSON array of objects, or has a value of the wrong type where an
    integer belongs, stops the ingest: a record that is only missing something is rejected.
    """
    fields = ", ".join(f"json -> {sql_str('$.' + name)} as {name}" for name in _IMAGE_INTEGERS)
    path = sql_str(feeds.path(item))
    with feeds.feeding([item]):
        try:
            execute(
                con,
                f"""
                create or replace temp table vg_image_json as
                select ordinality - 1 as record_index, json_type(json) as record_type, {fields}, json ->> '$.url' as url
                from read_json({path}, format = 'array', records = false, columns = {{json: 'JSON'}})
                    with ordinality
                """,
                f"read {item.name}",
                item.size,
                progress,
            )
        except duckdb.InvalidInputException as exc:
            raise InputError(_unreadable(item, exc)) from exc
    damaged = con.execute(
        f"select record_index, damage from (select record_index, {_damage_sql()} as damage from vg_image_json) "
        "where damage is not null order by record_index limit 1"
    ).fetchall()
    if damaged:
        raise InputError(f"{item.display}: record {damaged[0][0]}: {damaged[0][1]}; {_FIX}")
    casts = {name: f"{name}::{sql_type}" for name, sql_type in _IMAGE_INTEGERS.items()}
    con.execute(
        f"""
        create or replace temp table vg_image_rows as
        select record_index, coalesce({casts["image_id"]}, {casts["id"]}) as image_id, {casts["width"]} as width,
            {casts["height"]} as height, regexp_extract(url, '/(VG_100K(?:_2)?)/', 1) as folder,
            {casts["coco_id"]} as coco_id, {casts["flickr_id"]} as flickr_id, url
        from vg_image_json
        """
    )
    con.execute("drop table vg_image_json")
    bad_size = "width is null or height is null or width <= 0 or height <= 0"
    # A record whose image_id an earlier record has.
    repeats = (
        "count(*) over (partition by image_id) > 1 and record_index > min(record_index) over (partition by image_id)"
    )
    con.execute(
        f"""
        create or replace temp table vg_image_problems as
        select record_index, case
            when image_id is null then 'missing "image_id"'
            when {bad_size} then 'missing or non-positive width/height'
            when folder = '' then 'url ' || coalesce(url, 'null') || ' names no VG_100K or VG_100K_2 folder'
            when {repeats}
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
        ) to {sql_str(out / "images_0.parquet")} (format parquet, compression zstd)
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


def _damage_sql() -> str:
    """SQL over vg_image_json: why a record cannot be read as an image at all, or NULL.

    A JSON null or a missing key is not damage: such a record is rejected afterwards.
    """
    whens = [
        "when record_type <> 'OBJECT' then case record_type "
        "when 'ARRAY' then 'an array' when 'VARCHAR' then 'a string' "
        "when 'BOOLEAN' then 'a boolean' when 'NULL' then 'null' else 'a number' end || ', not an object'"
    ]
    for name, sql_type in _IMAGE_INTEGERS.items():
        shown = f"'{name} ' || left({name}::varchar, 40)"
        # 800.0 is whole: a file written through a float column (say, ids with nulls) is fine.
        whens.append(
            f"when json_type({name}) not in ('NULL', 'UBIGINT', 'BIGINT', 'DOUBLE') "
            f"or (json_type({name}) = 'DOUBLE' and {name}::double <> trunc({name}::double)) "
            f"then {shown} || ' is not an integer'"
        )
        whens.append(
            f"when json_type({name}) <> 'NULL' and try_cast({name} as {sql_type}) is null "
            f"then {shown} || ' is out of range'"
        )
    return "case " + " ".join(whens) + " end"


def _unreadable(item: InputFile, exc: duckdb.Error) -> str:
    """One line for an image_data.json DuckDB cannot parse: the file, the broken record, what to do."""
    first = first_line(exc)
    index = _first_broken_record(item)
    where = f"record {index}: " if index is not None else ""
    # DuckDB's message says "end of data" for most cuts; a cut just before the closing `]`
    # it calls an unexpected character, but then the file does not end in `]`.
    if "unexpected end of data" in first or not _ends_an_array(item):
        return f"{item.display}: {where}the file ends before this record is complete (truncated); download it again"
    reason = re.search(r"Malformed JSON .*: (.+?)\.?$", first)
    if index is not None and reason:
        return f"{item.display}: {where}not valid JSON ({reason.group(1)}); {_FIX}"
    return f"{item.display}: not a readable JSON array ({first}); {_FIX}"


# Finding the break reads the file whole in Python, so only a file up to this size (image_data.json
# is well within it); a larger one is reported without the broken record's index.
_LOCATE_MAX_BYTES = 1 << 27
_SPACE = re.compile(r"[ \t\r\n]*")


def _ends_an_array(item: InputFile) -> bool:
    """Whether the file's last character other than whitespace is `]`, as a whole JSON array's is."""
    if item.member is not None:
        return True  # not known without reading the member whole
    with open(item.path, "rb") as fh:
        fh.seek(max(item.size - 256, 0))
        return fh.read().rstrip(b" \t\r\n").endswith(b"]")


def _first_broken_record(item: InputFile) -> int | None:
    """The index of the first record of a JSON array that does not parse.

    DuckDB's message counts records differently once parsing breaks, so the break is
    found again here (bad input only). None when the file is a zip member, too large to
    read whole, not an array at all, or parses here.
    """
    if item.member is not None or item.size > _LOCATE_MAX_BYTES:
        return None
    text = item.path.read_bytes().decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos = _SPACE.match(text).end()
    if not text.startswith("[", pos):
        return None
    pos = _SPACE.match(text, pos + 1).end()
    if text.startswith("]", pos):
        return None
    index = 0
    while True:
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return index
        pos = _SPACE.match(text, pos).end()
        if text.startswith("]", pos):
            return None
        index += 1
        if not text.startswith(",", pos):
            return index  # the file ends, or something else stands, where the next record begins
        pos = _SPACE.match(text, pos + 1).end()


def ingest_objects(con, item: InputFile, feeds: Feeds, stage: Path, progress: bool) -> tuple[int, int, int]:
    """objects.json: one row per object, keyed by image_id and object_id."""
    return _copy_nested(
        con,
        item,
        feeds,
        stage / "vg_objects",
        progress,
        columns=(
            "{image_id: 'BIGINT', objects: 'STRUCT(object_id BIGINT, x INTEGER, y INTEGER, w INTEGER, h INTEGER, "
            "names VARCHAR[], synsets VARCHAR[])[]'}"
        ),
        nested="objects",
        select="image_id, o.object_id, o.x, o.y, o.w, o.h, o.names, o.synsets",
    )


def ingest_regions(con, item: InputFile, feeds: Feeds, stage: Path, progress: bool) -> tuple[int, int, int]:
    """region_descriptions.json: one row per region description."""
    return _copy_nested(
        con,
        item,
        feeds,
        stage / "vg_regions",
        progress,
        columns=(
            "{id: 'BIGINT', regions: 'STRUCT(region_id BIGINT, image_id BIGINT, phrase VARCHAR, "
            "x INTEGER, y INTEGER, width INTEGER, height INTEGER)[]'}"
        ),
        nested="regions",
        select="coalesce(o.image_id, id) as image_id, o.region_id, o.phrase, o.x, o.y, o.width, o.height",
    )


def _copy_nested(
    con, item: InputFile, feeds: Feeds, out: Path, progress: bool, columns: str, nested: str, select: str
) -> tuple[int, int, int]:
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{out.name}_0.parquet"
    query = f"""
        select {select} from (
            select *, unnest({nested}) as o
            from read_json({sql_str(feeds.path(item))}, format = 'array', columns = {columns})
        )
    """
    try:
        written = copy_input_to_parquet(con, item, feeds, query, target, progress)
    except duckdb.InvalidInputException as exc:  # not JSON, truncated, or a value of the wrong type
        raise InputError(f"{item.display}: not a readable JSON array ({first_line(exc)}); {_FIX}") from exc
    return written, written, 0


def _tally(con, rows: str, problems: str) -> tuple[int, int, int]:
    total, bad = con.execute(
        f"select count(*), count(problem) from {rows} join {problems} using (record_index)"
    ).fetchall()[0]
    return total, total - bad, bad
