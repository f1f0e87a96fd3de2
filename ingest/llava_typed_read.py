"""The fast read of a plain LLaVA-1.5 file: DuckDB's typed JSON reader, kept only when the
file's punctuation proves it saw every key and string (ingest/json_punctuation.py), and only
when no record needs a reason to be rejected.

Most LLaVA-family files the field trains on are LLaVA-1.5 records: `id`, an `image` string or
none, `conversations` of `from`/`value` turns, at most one other key (`model` in
llava_v1_5_mix665k). Read with their types, their turns come out as strings at once, where the
general reader (ingest/llava.py) keeps each record as JSON and takes it apart again for the
checks and for the turns: on llava_v1_5_mix665k that is most of its time (bench/README.md).

The typed read gives the same tables as the general reader or gives up, and the general reader
then reads the file: when the first records are of another shape (several images, a video,
two other keys), when DuckDB cannot read a record with these types (a turn that is not an
object), when the punctuation shows a key it was not asked for or a value that was not a
string, and when a record breaks a rule (the general reader writes the reject with its text).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from ingest.duck import detail, execute
from ingest.json_punctuation import Punctuation, RawCounter
from ingest.sources import Feeds, InputFile
from svit.core.sql import sql_str

KNOWN_KEYS = ("id", "image", "conversations")
# The keys' names, lowered: DuckDB matches struct fields without case, so none may be an extra key.
_RESERVED = {"id", "image", "conversations", "video", "from", "value"}
ROLE = 't."from"'  # a typed turn's role
_MARKS = ("<image>", "<video>")  # as ingest/llava.py counts them: each mark is 7 characters


def plain_head(first_records: list) -> bool:
    """Whether the file's first records are plain LLaVA-1.5 records (objects, no video, an
    `image` string if any): only then is the typed read tried."""
    return bool(first_records) and all(
        isinstance(r, dict) and "video" not in r and isinstance(r.get("image", ""), str) for r in first_records
    )


def other_key(con: duckdb.DuckDBPyConnection, path: str) -> str | None | bool:
    """The one top-level key besides id/image/conversations the file's records have (None:
    none), or False when they have other keys than that (a video, two more keys). All records
    are asked: llava_v1_5_mix665k's `model` first shows far into the file."""
    keys = {
        k
        for (k,) in con.execute(
            f"select distinct unnest(json_keys(json)) from read_json_objects({path}, format = 'array')"
        ).fetchall()
    }
    other = keys - set(KNOWN_KEYS)
    if len(other) > 1 or any(k.lower() in _RESERVED or '"' in k for k in other):
        return False
    return next(iter(other), None)


def _count(text: str, char: str) -> str:
    """SQL: how many times `char` is in the string `text` (0 for NULL)."""
    return f"coalesce(strlen({text}) - strlen(replace({text}, '{char}', '')), 0)"


def _read_sql(path: str, key: str | None) -> str:
    columns = "id: 'JSON', image: 'VARCHAR', conversations: 'STRUCT(\"from\" VARCHAR, value VARCHAR)[]'"
    if key is not None:
        columns += f", {sql_str(key)}: 'JSON'"
    other = f'"{key}"' if key is not None else "null::json"
    return f"""
    create or replace temp table llava_typed as
    select ordinality - 1 as record_index, id, image, conversations, {other} as other
    from read_json({path}, format = 'array', records = true, columns = {{{columns}}}) with ordinality
    """


def _marks_sql() -> str:
    """SQL: the <image>/<video> marks over a typed record's turns."""
    stripped = "t.value"
    for mark in _MARKS:
        stripped = f"replace({stripped}, '{mark}', '')"
    return (
        f"coalesce(list_sum(list_transform(conversations, lambda t: (length(t.value) - length({stripped})) // 7)), 0)"
    )


def _judge_sql() -> str:
    """SQL: one row, whether every record keeps to the rules of ingest/llava.py (`bad`: how many
    do not) and what the typed read saw (keys, strings, and the punctuation inside them)."""
    # Lambda indexes count from 1: an odd index is a human turn.
    turns_ok = (
        'list_bool_and(list_transform(conversations, lambda t, i: coalesce(t."from" = '
        "case when i % 2 = 1 then 'human' else 'gpt' end and t.value is not null, false)))"
    )
    inside = {}
    for char in ('"', ":"):
        in_turn = _count(ROLE, char) + " + " + _count("t.value", char)
        inside[char] = " + ".join(
            [
                _count("id::varchar", char),
                _count("other::varchar", char),
                _count("image", char),
                f"coalesce(list_sum(list_transform(conversations, lambda t: {in_turn})), 0)",
            ]
        )
    return f"""
    with judged as (
        select image, conversations, id, other,
            coalesce(
                json_type(id) in ('VARCHAR', 'UBIGINT', 'BIGINT')
                and len(conversations) > 0
                and {turns_ok}
                and {_marks_sql()} <= (image is not null)::integer,
                false
            ) as ok,
            {inside['"']} as quotes,
            {inside[":"]} as colons
        from llava_typed
    )
    select count(*) filter (where not ok), count(id), count(image), count(conversations), count(other),
        coalesce(sum(len(conversations)), 0), coalesce(sum(quotes), 0), coalesce(sum(colons), 0)
    from judged
    """


def _scan_sql() -> str:
    """SQL: llava_scan (ingest/llava.py) from the typed records, all of them kept."""
    return f"""
    create or replace temp table llava_scan as
    select record_index,
        json_extract_string(id, '$') as id,
        id::varchar as id_json,
        case json_type(id) when 'VARCHAR' then 'string' else 'integer' end as id_type,
        image is not null as has_image,
        image,
        len(conversations)::integer as n_turns,
        case when other is not null then json_object(?::varchar, other)::varchar end as extra,
        (image is not null)::integer as n_images,
        0 as n_videos,
        null::varchar as media,
        null::varchar as layout,
        case when image is not null then [{{'kind': 'image', 'path': image}}] else [] end as media_items,
        image is not null and {_marks_sql()} = 0 as implicit,
        null::varchar as problem,
        null::varchar as raw
    from llava_typed
    """


def read_typed(
    con: duckdb.DuckDBPyConnection,
    item: InputFile,
    feeds: Feeds,
    first_records: list,
    progress: bool,
    counter: RawCounter | None = None,
) -> bool:
    """Read `item` with its types into llava_typed and llava_scan; False (and nothing left
    behind) when the typed read cannot stand for the general one. `item` is a JSON array
    (JSON lines go to the general reader). `counter`: the file's punctuation, counted
    by the caller while it hashed the file; otherwise counted here, beside the read."""
    if not plain_head(first_records):
        return False
    counter = counter or _count_beside(item)
    taps = {item: counter.feed} if item.member is not None else None
    path = sql_str(feeds.path(item))
    try:
        with feeds.feeding([item]):
            key = other_key(con, path)
        if key is False:
            detail(f"  {item.name}: keys besides id, image, conversations and one other; reading records as JSON")
            return False
        with feeds.feeding([item], taps):
            execute(con, _read_sql(path, key), f"read {item.name}", item.size, progress)
    except duckdb.Error as exc:
        detail(f"  {item.name}: the typed read gave up ({str(exc).splitlines()[0][:120]}); reading records as JSON")
        drop(con)
        return False
    bad, ids, images, conversations, others, turns, quotes, colons = con.execute(_judge_sql()).fetchall()[0]
    if item.member is None:  # a zip member's punctuation was counted as it was fed
        counter.done.wait()
    keys = ids + images + conversations + others + 2 * turns
    strings = images + 2 * turns
    # Outside strings: two quotes per key and per string value; a colon per key. The id and the
    # other key are JSON text, whose own quotes and colons are in `quotes` and `colons`.
    expected = Punctuation(2 * keys + 2 * strings + quotes, keys + colons)
    raw = counter.counts
    if bad or raw.hiding_escapes or (raw.quotes, raw.colons) != (expected.quotes, expected.colons):
        reason = f"{bad:,} records to reject" if bad else f"punctuation {raw} against {expected}"
        detail(f"  {item.name}: the typed read cannot stand ({reason}); reading records as JSON")
        drop(con)
        return False
    con.execute(_scan_sql(), [key])
    detail(f"  {item.name}: typed read")
    return True


def _count_beside(item: InputFile) -> RawCounter:
    counter = RawCounter()
    if item.member is None:
        threading.Thread(target=counter.count_file, args=(item.path,), daemon=True).start()
    return counter


def drop(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop table if exists llava_typed")


def write_typed_turns(con: duckdb.DuckDBPyConnection, item: InputFile, out: Path, progress: bool) -> None:
    """The turns of llava_typed, in record and turn order (the table is in record order, and
    the unnest keeps each record's turns in order), then the table is dropped."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    target = sql_str(out / "llava_turns_0.parquet")
    execute(
        con,
        f"""
        copy (
            select record_index, turn, t."from" as role, t.value as text, null::varchar as extra
            from (
                select record_index, unnest(conversations) as t,
                    (generate_subscripts(conversations, 1) - 1)::integer as turn
                from llava_typed
            )
        ) to {target} (format parquet, compression zstd, compression_level 1, row_group_size 262144)
        """,
        f"write turns of {item.name}",
        item.size,
        progress,
    )
    drop(con)
