"""LLaVA-family files (records of {id, image?, video?, conversations, ...}) into llava_records,
llava_turns and llava_media.

The file is a JSON array (LLaVA-1.5's `json.load`) or JSON lines (one record per line, as
LLaVA-NeXT's data YAML and most trainers also read); which one is told by its first
character. A record's media are `image` (a string, or a list for several images as
LLaVA-NeXT / OneVision write them) and `video` (a string or a list): each becomes a row of
llava_media, in order, which is the truth about a record's media; llava_records keeps how the
keys were written (`media`, null for LLaVA-1.5's single `image` string) so the record can be
written back as it came.

What a faithful round trip needs is kept: `id` with its JSON type (the string "2327515" and
the integer 2327515 stay apart), `image` absent vs present, every other key (`model`, ...)
as JSON, turn-level extra keys, and record order. The file is read once into a table of
records (`llava_raw`); the scan judges each record from it and splits its turns, the turns
are written from that split, and a record whose turns turn out bad is rejected and the turns
written again without it.

Placeholders (docs/warehouse.md, "Media and placeholders"): the `<image>` and `<video>` marks
over all turns must match the record's media: none without media, one per medium when there
are several. A record with one medium and no mark is kept and counted (LLaVA-NeXT, InternVL
and ms-swift put the mark in front of the first turn themselves); any other mismatch rejects
the record with both counts in the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ingest import llava_shapes, llava_typed_read
from ingest.checks import PLACEHOLDERS, turn_problem
from ingest.duck import execute
from ingest.json_punctuation import RawCounter
from ingest.sources import Feeds, InputFile, model_name
from svit.core.errors import InputError, first_line
from svit.core.sql import sql_str

JSON_ARRAY = "json array"
JSON_LINES = "json lines"
IMPLICIT = "with an implicit placeholder (one medium, no mark)"  # the note counted in the manifest
RESHAPE_BATCH = 20_000  # records of a ShareGPT or TRL file mapped at a time
SHAPE_SAMPLE = 200  # the first records that tell a file's shape
TYPED_READ = True  # tests turn it off to compare the typed read with the general one
_BETWEEN = re.compile(r"[ \t\r\n,]*")  # what stands between two records of an array or of JSON lines
RESHAPED = pa.schema(
    [("record_index", pa.int64())]
    + [(name, pa.string()) for name in ("rec", "unreadable", "text", "media_written", "layout")]
)


def detect_container(item: InputFile) -> str:
    """JSON array or JSON lines, by the file's first character other than white space."""
    with open(item.path, "rb") as f:
        head = f.read(1 << 16).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head or head.startswith(b"["):  # an empty file reads as no records, as an empty array does
        return JSON_ARRAY
    if head.startswith(b"{"):
        return JSON_LINES
    shown = head[:20].decode("utf-8", "replace") or "nothing"
    raise InputError(
        f"{item.display}: not a LLaVA-family file (tried: a JSON array, starting with '[', and JSON lines, "
        f"one object per line starting with '{{'); it starts with {shown!r}"
    )


def ingest_llava_file(
    con: duckdb.DuckDBPyConnection,
    item: InputFile,
    feeds: Feeds,
    stage: Path,
    progress: bool,
    counter: RawCounter | None = None,
) -> tuple[int, int, int, dict[str, int], str]:
    """Write one LLaVA file's records, turns and media under `source=<model name>`.
    Returns read, written, rejected, notes (counts of records kept with a remark) and the container read.
    `counter`: the file's punctuation, counted while it was hashed (ingest/llava_typed_read.py)."""
    source = model_name(item.name)
    container = detect_container(item)
    first = _first_records(item, container)
    layout = llava_shapes.detect(first, item.shape)
    # Plain LLaVA-1.5 arrays are read with their types when that can be proven to lose nothing.
    typed = (
        TYPED_READ
        and layout is None
        and container == JSON_ARRAY
        and llava_typed_read.read_typed(con, item, first, progress, counter)
    )
    if not typed:
        _read_raw(con, item, feeds, container, progress)
        if layout is not None:
            _reshape(con, layout)
    records_dir = stage / "llava_records" / f"source={source}"
    turns_dir = stage / "llava_turns" / f"source={source}"
    media_dir = stage / "llava_media" / f"source={source}"
    if typed:
        llava_typed_read.write_typed_turns(con, item, turns_dir, progress)
    else:
        con.execute(_scan_sql())
        _write_turns(con, item, turns_dir, progress)
        [(expected,)] = con.execute("select coalesce(sum(n_turns), 0) from llava_scan where problem is null").fetchall()
        [(written,)] = con.execute(f"select count(*) from read_parquet({sql_str(turns_dir / '*.parquet')})").fetchall()
        if written != expected:
            _diagnose_turns(con)
            _write_turns(con, item, turns_dir, progress)
    records_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select ? as source_file, record_index, id, id_json, id_type, has_image, image, n_turns, extra,
                n_images, n_videos, media, layout
            from llava_scan where problem is null order by record_index
        ) to {sql_str(records_dir / "llava_records_0.parquet")} (format parquet, compression zstd)
        """,
        [item.name],
    )
    media_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select ? as source_file, record_index, ordinal, item.kind, item.path
            from (
                select record_index, unnest(media_items) as item,
                    (generate_subscripts(media_items, 1) - 1)::integer as ordinal
                from llava_scan where problem is null
            )
            order by record_index, ordinal
        ) to {sql_str(media_dir / "llava_media_0.parquet")} (format parquet, compression zstd)
        """,
        [item.name],
    )
    con.execute(
        "insert into rejects select ?, ?, record_index, null, problem, raw from llava_scan where problem is not null "
        "order by record_index",
        [item.name, item.display],
    )
    total, bad, implicit = con.execute(
        "select count(*), count(problem), count(*) filter (where problem is null and implicit) from llava_scan"
    ).fetchall()[0]
    shape = f"{layout.format} {container}" if layout is not None else container
    return total, total - bad, bad, ({IMPLICIT: implicit} if implicit else {}), shape


def _read_raw(con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, container: str, progress: bool) -> None:
    """llava_raw: the file's records, each whole as JSON (or why it is unreadable)."""
    if container == JSON_LINES:
        _raw_from_lines(con, item)
        return
    path = sql_str(feeds.path(item))
    with feeds.feeding([item]):
        try:
            execute(con, _raw_from_array(path), f"read {item.name}", item.size, progress)
        except (duckdb.InvalidInputException, duckdb.IOException) as exc:
            raise InputError(f"cannot read {item.display} as a JSON array: {first_line(exc)}") from exc


def _first_records(item: InputFile, container: str) -> list:
    """The file's first records, as many as its first megabytes hold whole (at least the first
    one, unless it does not parse): they tell the shape."""
    decoder = json.JSONDecoder()
    records: list = []
    with open(item.path, "rb") as f:
        head = b""
        while not records and (chunk := f.read(1 << 22)):
            head += chunk
            text = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
            at = 1 if container == JSON_ARRAY else 0
            while len(records) < SHAPE_SAMPLE:
                at = _BETWEEN.match(text, at).end()
                try:
                    record, at = decoder.raw_decode(text, at)
                except json.JSONDecodeError:
                    break
                records.append(record)
            if len(head) >= 1 << 26:  # a first record this long is not worth the wait: LLaVA's shape
                break
    return records


def _reshape(con: duckdb.DuckDBPyConnection, layout) -> None:
    """llava_raw of a ShareGPT or TRL file rewritten as LLaVA records (ingest/llava_shapes.py),
    each with its media keys and layout as written and its own JSON in `text` (what a reject
    shows); a record that does not map gets its reason in `unreadable`. Mapped in batches, so
    that only one batch is ever held as Python objects."""
    names = ("record_index", "rec", "unreadable", "text", "media_written", "layout")
    reader = con.sql("select record_index, rec::varchar, unreadable, text from llava_raw order by record_index")
    batches = []
    for batch in reader.to_arrow_reader(RESHAPE_BATCH):
        columns: dict[str, list] = {k: [] for k in names}
        for index, rec, unreadable, text in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            llava = media = None
            if unreadable is None:
                record = json.loads(rec)
                llava, media, unreadable = llava_shapes.to_llava(record, layout, index)
                text = rec  # what a reject shows, should the LLaVA record be refused later
            columns["record_index"].append(index)
            columns["rec"].append(json.dumps(llava, ensure_ascii=False) if llava is not None else None)
            columns["unreadable"].append(unreadable)
            columns["text"].append(text)
            columns["media_written"].append(media)
            columns["layout"].append(llava_shapes.layout_of(layout, record) if llava is not None else None)
        batches.append(pa.table(columns, schema=RESHAPED))
    con.register("llava_shaped", pa.concat_tables(batches) if batches else RESHAPED.empty_table())
    try:
        con.execute(
            "create or replace temp table llava_raw as select record_index, rec::json as rec, unreadable, text, "
            "media_written, layout from llava_shaped order by record_index"
        )
    finally:
        con.unregister("llava_shaped")


def _raw_from_array(path: str) -> str:
    """SQL: the records of a JSON array, each whole as JSON, numbered from 0."""
    return f"""
    create or replace temp table llava_raw as
    select ordinality - 1 as record_index, json as rec, null::varchar as unreadable, null::varchar as text,
        null::varchar as media_written, null::varchar as layout
    from read_json({path}, format = 'array', records = false, columns = {{json: 'JSON'}}) with ordinality
    """


def _raw_from_lines(con: duckdb.DuckDBPyConnection, item: InputFile) -> None:
    """The records of a JSON lines file, numbered from 0 over the lines that are not blank.
    A line that is not JSON (or not UTF-8) is a record with `unreadable` set, its line named."""
    try:
        data = item.path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {item.display}: {exc.strerror or exc}") from exc
    bytes_ = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(bytes_ == ord("\n")) + 1
    offsets = np.concatenate(([0], ends, [len(data)] if not len(ends) or ends[-1] != len(data) else []))
    # Each line keeps its newline, which JSON reads as white space: the lines tile the file, no copy.
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data)]
    )
    con.register("llava_lines", pa.table({"line": pa.array(np.arange(1, len(offsets)), pa.int64()), "bytes": lines}))
    try:
        con.execute(
            """
            create or replace temp table llava_raw as
            with decoded as (
                select line, try(decode(bytes)) as text from llava_lines
            ),
            records as (
                select line, text from decoded
                where text is null or trim(text, chr(32) || chr(9) || chr(13) || chr(10)) <> ''
            )
            select row_number() over (order by line) - 1 as record_index,
                case when json_valid(text) then text::json end as rec,
                case
                    when text is null then 'line ' || line || ' is not UTF-8 text'
                    when not json_valid(text) then 'line ' || line || ' is not JSON'
                end as unreadable,
                case when not json_valid(text) then rtrim(text, chr(13) || chr(10)) end as text,
                null::varchar as media_written, null::varchar as layout
            from records
            order by line
            """
        )
    finally:
        con.unregister("llava_lines")


def json_kind(value: str) -> str:
    """SQL: what a JSON value is, in JSON's words (string, number, list, object, boolean, null)."""
    return (
        f"case coalesce(json_type({value}), 'NULL') when 'VARCHAR' then 'a string' when 'ARRAY' then 'a list' "
        f"when 'OBJECT' then 'an object' when 'BOOLEAN' then 'a boolean' when 'NULL' then 'null' else 'a number' end"
    )


def _media_sql(key: str, kind: str) -> tuple[str, str, str]:
    """SQL for one media key of a record (`image` or `video`): why it is unusable (or NULL),
    how many media it names, and the list of {kind, path} it gives."""
    value = f"{key}_json"
    items = f"json_transform({value}, '[\"JSON\"]')"
    first_bad = f"list_position(list_transform({items}, lambda x: coalesce(json_type(x) = 'VARCHAR', false)), false)"
    problem = f"""
        case
            when not has_{key}_key then null
            when json_type({value}) not in ('VARCHAR', 'ARRAY')
                then '"{key}" is ' || {json_kind(value)} || ', not a string or a list of strings'
            when json_type({value}) = 'ARRAY' and json_array_length({value}) = 0 then 'empty "{key}" list'
            when json_type({value}) = 'ARRAY' and {first_bad} > 0
                then '"{key}" item ' || ({first_bad} - 1) || ' is ' || {json_kind(f"{items}[{first_bad}]")}
                    || ', not a string'
        end
    """
    count = (
        f"case when not has_{key}_key then 0 when json_type({value}) = 'VARCHAR' then 1 "
        f"else json_array_length({value}) end"
    )
    listed = (
        f"case when not has_{key}_key then [] "
        f"when json_type({value}) = 'VARCHAR' then [{{'kind': '{kind}', 'path': json_extract_string({value}, '$')}}] "
        f"else list_transform(json_transform({value}, '[\"VARCHAR\"]'), lambda p: {{'kind': '{kind}', 'path': p}}) end"
    )
    return problem, count, listed


def _scan_sql() -> str:
    id_types = "('VARCHAR', 'UBIGINT', 'BIGINT')"
    turns = "json_transform(conversations_json, '[\"JSON\"]')"
    id_type = "case json_type(id_json) when 'VARCHAR' then 'string' else 'integer' end"
    image_problem, n_images, image_items = _media_sql("image", "image")
    video_problem, n_videos, video_items = _media_sql("video", "video")
    # Placeholders over every turn's value: each mark is 7 characters long.
    stripped = "v"
    for mark in PLACEHOLDERS:
        stripped = f"replace({stripped}, '{mark}', '')"
    marks = (
        "coalesce(list_sum(list_transform(json_extract_string(conversations_json, '$[*].value'), "
        f"lambda v: (length(v) - length({stripped})) // 7)), 0)"
    )
    return f"""
    create or replace temp table llava_scan as
    with parsed as (
        -- The record parsed once for its keys and once for the four values read (a list of
        -- paths is one parse).
        select record_index, rec, unreadable, text, media_written, layout,
            json_type(rec) = 'OBJECT' as is_object,
            json_keys(rec) as keys,
            json_extract(rec, ['$.id', '$.image', '$.video', '$.conversations']) as leaves
        from llava_raw
    ),
    fields as (
        select record_index, rec, unreadable, text, media_written, layout, is_object, keys,
            leaves[1] as id_json,
            coalesce(list_contains(keys, 'image'), false) as has_image_key,
            coalesce(list_contains(keys, 'video'), false) as has_video_key,
            leaves[2] as image_json,
            leaves[3] as video_json,
            leaves[4] as conversations_json
        from parsed
    ),
    split as (
        -- Each turn as JSON: split once, for the checks here and the turns written next.
        select *,
            case when json_type(conversations_json) = 'ARRAY' then {turns} end as split_turns
        from fields
    ),
    judged as (
        select *,
            case
                when unreadable is not null then unreadable
                when not is_object then 'record is ' || {json_kind("rec")} || ', not an object'
                when id_json is null then 'missing "id"'
                when json_type(id_json) not in {id_types} then '"id" is neither a string nor an integer'
                when ({image_problem}) is not null then {image_problem}
                when ({video_problem}) is not null then {video_problem}
                when conversations_json is null then 'missing "conversations"'
                when json_type(conversations_json) <> 'ARRAY' then '"conversations" is not a list'
                when json_array_length(conversations_json) = 0 then 'empty "conversations"'
                when len(list_filter(split_turns, lambda t: json_type(t) <> 'OBJECT')) > 0
                    then 'a turn is not an object'
            end as problem
        from split
    ),
    counted as (
        select *,
            case when problem is null then {n_images} else 0 end as n_images,
            case when problem is null then {n_videos} else 0 end as n_videos,
            case when problem is null then {marks} else 0 end as marks
        from judged
    ),
    placed as (
        select *,
            coalesce(problem, case
                when n_images + n_videos = 0 and marks > 0
                    then marks || ' <image>/<video> placeholders in a record without media'
                when n_images + n_videos = 1 and marks > 1
                    then marks || ' <image>/<video> placeholders for 1 medium'
                when n_images + n_videos > 1 and marks <> n_images + n_videos
                    then marks || ' <image>/<video> placeholders for ' || (n_images + n_videos) || ' media ('
                        || n_images || ' images, ' || n_videos || ' videos)'
            end) as judged_problem
        from counted
    )
    select record_index,
        case when judged_problem is null then json_extract_string(id_json, '$') end as id,
        case when judged_problem is null then id_json::varchar end as id_json,
        case when judged_problem is null then {id_type} end as id_type,
        n_images + n_videos > 0 as has_image,
        case when judged_problem is null and json_type(image_json) = 'VARCHAR'
            then json_extract_string(image_json, '$') end as image,
        case when judged_problem is null then json_array_length(conversations_json)::integer end as n_turns,
        case when judged_problem is null and len(keys) > 2 + has_image_key::integer + has_video_key::integer
            then json_merge_patch(rec, '{{"id": null, "image": null, "video": null, "conversations": null}}')::varchar
        end as extra,
        n_images::integer as n_images,
        n_videos::integer as n_videos,
        -- How the media keys were written, when not as LLaVA-1.5's one `image` string.
        case when judged_problem is null then coalesce(media_written, case
            when json_type(image_json) = 'ARRAY' or has_video_key
                then json_merge_patch('{{}}', json_object('image', image_json, 'video', video_json))::varchar
        end) end as media,
        case when judged_problem is null then layout end as layout,
        case when judged_problem is null then list_concat({image_items}, {video_items}) end as media_items,
        case when judged_problem is null then split_turns end as turn_items,
        judged_problem is null and n_images + n_videos = 1 and marks = 0 as implicit,
        judged_problem as problem,
        case when judged_problem is not null then coalesce(text, rec::varchar) end as raw
    from placed
    """


def _write_turns(con, item: InputFile, out: Path, progress: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    extra = 'json_merge_patch(t, \'{"from": null, "value": null}\')::varchar'
    target = sql_str(out / "llava_turns_0.parquet")
    # The turns as the scan split them (llava_scan.turn_items), each parsed once into its two
    # JSON leaves: a string leaf is one whose text starts with a quote.
    execute(
        con,
        f"""
        copy (
            with turns as (
                select record_index, unnest(turn_items) as t,
                    (generate_subscripts(turn_items, 1) - 1)::integer as turn
                from llava_scan
                where problem is null
            ),
            leaves as (
                select record_index, turn, t, json_transform(t, '{{"from": "JSON", "value": "JSON"}}') as s
                from turns
            ),
            read as (
                select record_index, turn, t, s,
                    starts_with(s."from"::varchar, '"') and starts_with(s.value::varchar, '"') as strings,
                    json_extract_string(s."from", '$') as role
                from leaves
            )
            select *, {llava_typed_read.stored_turn_measures()}
            from (
                select record_index, turn, role, json_extract_string(s.value, '$') as text,
                    case when len(json_keys(t)) > 2 then {extra} end as extra
                from read
                where strings and role = case when turn % 2 = 0 then 'human' else 'gpt' end
            )
            order by record_index, turn
        ) to {target} (format parquet, compression zstd, compression_level 1, row_group_size 262144)
        """,
        f"write turns of {item.name}",
        item.size,
        progress,
    )


def _diagnose_turns(con) -> None:
    """Reject the records holding a bad turn; a second look at the turns, so only run on bad input."""
    conversations = "json_extract(rec, '$.conversations')"
    con.execute(
        f"""
        update llava_scan s set problem = p.problem, raw = p.rec::varchar
        from (
            select record_index, any_value(rec) as rec, arg_min(problem, k) as problem
            from (
                select record_index, rec, k, {turn_problem("t", "k", "human", "gpt")} as problem
                from (
                    select record_index, rec,
                        unnest(json_transform({conversations}, '[{{"from": "JSON", "value": "JSON"}}]')) as t,
                        generate_subscripts(json_transform({conversations}, '["JSON"]'), 1) - 1 as k
                    from llava_raw
                    where record_index in (select record_index from llava_scan where problem is null)
                )
            )
            where problem is not null
            group by record_index
        ) p
        where s.record_index = p.record_index and s.problem is null
        """
    )
