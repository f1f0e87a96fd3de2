"""LLaVA-format files (a JSON array of {id, image?, conversations, ...}) into llava_records / llava_turns.

What a faithful round trip needs is kept: `id` with its JSON type (the string "2327515" and
the integer 2327515 stay apart), `image` absent vs present, every other key (`model`, ...)
as JSON, turn-level extra keys, and record order. Like the SVIT reader, pass 1 keeps one small
row per record, pass 2 streams the turns to Parquet, and a record whose turns turn out bad is
rejected and its file's turns written again without it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.checks import turn_problem
from ingest.duck import execute
from ingest.sources import Feeds, InputFile, model_name
from svit.core.errors import InputError, first_line
from svit.core.sql import sql_str


def ingest_llava_file(
    con: duckdb.DuckDBPyConnection, item: InputFile, feeds: Feeds, stage: Path, progress: bool
) -> tuple[int, int, int]:
    """Write one LLaVA file's records and turns under `source=<model name>`. Returns read, written, rejected."""
    source = model_name(item.name)
    path = sql_str(feeds.path(item))
    with feeds.feeding([item]):
        try:
            execute(con, _scan_sql(path), f"scan {item.name}", item.size, progress)
        except (duckdb.InvalidInputException, duckdb.IOException) as exc:
            raise InputError(f"cannot read {item.display} as a JSON array: {first_line(exc)}") from exc
    con.execute(
        "create or replace temp table llava_bad as select record_index from llava_scan where problem is not null"
    )
    records_dir = stage / "llava_records" / f"source={source}"
    turns_dir = stage / "llava_turns" / f"source={source}"
    _write_turns(con, item, feeds, path, turns_dir, progress)
    expected = con.execute("select coalesce(sum(n_turns), 0) from llava_scan where problem is null").fetchall()[0][0]
    written = con.execute(f"select count(*) from read_parquet({sql_str(turns_dir / '*.parquet')})").fetchall()[0][0]
    if written != expected:
        _diagnose_turns(con, item, feeds, path)
        _write_turns(con, item, feeds, path, turns_dir, progress)
    records_dir.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select ? as source_file, record_index, id, id_json, id_type, has_image, image, n_turns, extra
            from llava_scan where problem is null order by record_index
        ) to {sql_str(records_dir / "llava_records_0.parquet")} (format parquet, compression zstd)
        """,
        [item.name],
    )
    con.execute(
        "insert into rejects select ?, ?, record_index, null, problem, raw from llava_scan where problem is not null "
        "order by record_index",
        [item.name, item.display],
    )
    total, bad = con.execute("select count(*), count(problem) from llava_scan").fetchall()[0]
    return total, total - bad, bad


def _read_records(path: str) -> str:
    """SQL: the file's records, each whole as JSON (`json`), numbered from 1 (`ordinality`)."""
    return f"read_json({path}, format = 'array', records = false, columns = {{json: 'JSON'}}) with ordinality"


def _scan_sql(path: str) -> str:
    id_types = "('VARCHAR', 'UBIGINT', 'BIGINT')"
    turns = "json_transform(conversations_json, '[\"JSON\"]')"
    id_type = "case json_type(id_json) when 'VARCHAR' then 'string' else 'integer' end"
    return f"""
    create or replace temp table llava_scan as
    with raw as (
        select ordinality - 1 as record_index, json as rec
        from {_read_records(path)}
    ),
    fields as (
        select record_index, rec,
            json_type(rec) = 'OBJECT' as is_object,
            json_extract(rec, '$.id') as id_json,
            list_contains(json_keys(rec), 'image') as has_image,
            json_extract(rec, '$.image') as image_json,
            json_extract(rec, '$.conversations') as conversations_json
        from raw
    ),
    judged as (
        select *,
            case
                when not is_object then 'record is a ' || json_type(rec) || ', not an object'
                when id_json is null then 'missing "id"'
                when json_type(id_json) not in {id_types} then '"id" is neither a string nor an integer'
                when has_image and json_type(image_json) <> 'VARCHAR' then '"image" is not a string'
                when conversations_json is null then 'missing "conversations"'
                when json_type(conversations_json) <> 'ARRAY' then '"conversations" is not a list'
                when json_array_length(conversations_json) = 0 then 'empty "conversations"'
                when len(list_filter({turns}, lambda t: json_type(t) <> 'OBJECT')) > 0
                    then 'a turn is not an object'
            end as problem
        from fields
    )
    select record_index,
        case when problem is null then json_extract_string(id_json, '$') end as id,
        case when problem is null then id_json::varchar end as id_json,
        case when problem is null then {id_type} end as id_type,
        coalesce(has_image, false) as has_image,
        case when problem is null then json_extract_string(image_json, '$') end as image,
        case when problem is null then json_array_length(conversations_json)::integer end as n_turns,
        case when problem is null and len(json_keys(rec)) > 2 + has_image::integer
            then json_merge_patch(rec, '{{"id": null, "image": null, "conversations": null}}')::varchar end as extra,
        problem,
        case when problem is not null then rec::varchar end as raw
    from judged
    """


def _write_turns(con, item: InputFile, feeds: Feeds, path: str, out: Path, progress: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    role = "json_extract_string(t, '$.from')"
    extra = 'json_merge_patch(t, \'{"from": null, "value": null}\')::varchar'
    target = sql_str(out / "llava_turns_0.parquet")
    with feeds.feeding([item]):
        execute(
            con,
            f"""
            copy (
                with recs as (
                    select ordinality - 1 as record_index, json_extract(json, '$.conversations') as conversations
                    from {_read_records(path)}
                    where ordinality - 1 not in (select record_index from llava_bad)
                ),
                turns as (
                    select record_index,
                        unnest(json_transform(conversations, '["JSON"]')) as t,
                        (generate_subscripts(json_transform(conversations, '["JSON"]'), 1) - 1)::integer as turn
                    from recs
                )
                select record_index, turn, {role} as role, json_extract_string(t, '$.value') as text,
                    case when len(json_keys(t)) > 2 then {extra} end as extra
                from turns
                where json_type(t, '$.value') = 'VARCHAR'
                  and json_type(t, '$.from') = 'VARCHAR'
                  and {role} = case when turn % 2 = 0 then 'human' else 'gpt' end
            ) to {target} (format parquet, compression zstd, compression_level 1, row_group_size 262144)
            """,
            f"write turns of {item.name}",
            item.size,
            progress,
        )


def _diagnose_turns(con, item: InputFile, feeds: Feeds, path: str) -> None:
    """Reject the records holding a bad turn; a second parse, so only run on bad input."""
    conversations = "json_extract(json, '$.conversations')"
    with feeds.feeding([item]):
        con.execute(
            f"""
            update llava_scan s set problem = p.problem, raw = p.rec::varchar
            from (
                select record_index, any_value(rec) as rec, arg_min(problem, k) as problem
                from (
                    select record_index, rec, k, {turn_problem("t", "k", "human", "gpt")} as problem
                    from (
                        select ordinality - 1 as record_index, json as rec,
                            unnest(json_transform({conversations}, '[{{"from": "JSON", "value": "JSON"}}]')) as t,
                            generate_subscripts(json_transform({conversations}, '["JSON"]'), 1) - 1 as k
                        from {_read_records(path)}
                    )
                )
                where problem is not null
                group by record_index
            ) p
            where s.record_index = p.record_index and s.problem is null
            """
        )
    con.execute(
        "create or replace temp table llava_bad as select record_index from llava_scan where problem is not null"
    )
