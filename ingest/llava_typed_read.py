"""The fast read of a plain LLaVA-1.5 file: DuckDB's typed JSON reader, kept only when the
file's punctuation proves it saw every key and string (ingest/json_punctuation.py), and only
when no record needs a reason to be rejected.

Most LLaVA-family files the field trains on are LLaVA-1.5 records: `id`, an `image` string or
none, `conversations` of `from`/`value` turns, and now and then one other key (`model` in
llava_v1_5_mix665k). Read with their types, their turns come out as strings at once, where the
general reader (ingest/llava.py) keeps each record as JSON and takes it apart again for the
checks and for the turns: on llava_v1_5_mix665k that was most of its time (bench/README.md).

The other keys are guessed from windows spread over the file; when the punctuation shows a key
the guess missed, every record's keys are asked and the file read once more. The typed read
gives the same tables as the general reader or steps aside, and the general reader reads the
file: when the first records are of another shape (several images, a video), when a record has
two other keys (their order would be lost), when DuckDB cannot read a record with these types
(a turn that is not an object), when the punctuation shows a key or a value that is not a
string, and when a record breaks a rule (the general reader writes the reject with its text).
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from ingest.checks import PLACEHOLDERS
from ingest.duck import detail, execute
from ingest.json_punctuation import Punctuation, RawCounter, key_names
from ingest.sources import InputFile
from svit.core import word_counts
from svit.core.macros import render_with_macros
from svit.core.sql import sql_str

KNOWN_KEYS = ("id", "image", "conversations")
# The keys' names, lowered: DuckDB matches struct fields without case, so none may be an extra key.
_RESERVED = {"id", "image", "conversations", "video", "from", "value"}
ROLE = 't."from"'  # a typed turn's role
WINDOWS, WINDOW_BYTES = 32, 1 << 18  # where sampled_keys looks: WINDOWS windows spread over the file
MAX_OTHER_KEYS = 16  # more key names than this are not read as columns


def plain_head(first_records: list) -> bool:
    """Whether the file's first records are plain LLaVA-1.5 records (objects, no video, an
    `image` string if any): only then is the typed read tried."""
    return bool(first_records) and all(
        isinstance(r, dict) and "video" not in r and isinstance(r.get("image", ""), str) for r in first_records
    )


def sampled_keys(item: InputFile) -> set[str]:
    """Key names seen in windows spread over the file: a guess at its records' other keys,
    cheap to make. A key it misses shows in the punctuation, and all records are then asked
    (`discovered_keys`); a name it takes from inside a value only adds an empty column."""
    names: set[str] = set()
    with open(item.path, "rb") as f:
        for k in range(WINDOWS):
            f.seek(item.size * k // WINDOWS)
            names.update(key_names(f.read(WINDOW_BYTES)))
    return names


def discovered_keys(con: duckdb.DuckDBPyConnection, path: str) -> set[str]:
    """Every top-level key of the file's records: one more parse of the whole file."""
    sql = f"select distinct unnest(json_keys(json)) from read_json_objects({path}, format = 'array')"
    return {k for (k,) in con.execute(sql).fetchall()}


def other_keys(keys: set[str], guessed: bool) -> list[str] | None:
    """The keys to read as JSON columns besides id/image/conversations, or None when the typed
    read cannot hold them: a video, names DuckDB would not tell apart (it matches fields without
    case), too many. A guess drops such names instead: the proof finds a key that was missed."""
    others: dict[str, str] = {}
    for key in sorted(keys - set(KNOWN_KEYS)):
        if key.lower() in _RESERVED or '"' in key or key.lower() in others:
            if guessed:
                continue
            return None
        others[key.lower()] = key
    if len(others) > MAX_OTHER_KEYS:
        return None
    return list(others.values())


def _count(text: str, char: str) -> str:
    """SQL: how many times `char` is in the string `text` (0 for NULL); a text without it (most
    are) is only searched, not copied."""
    return (
        f"case when contains({text}, '{char}') then strlen({text}) - strlen(replace({text}, '{char}', '')) else 0 end"
    )


def _read_sql(path: str, others: list[str]) -> str:
    columns = "id: 'JSON', image: 'VARCHAR', conversations: 'STRUCT(\"from\" VARCHAR, value VARCHAR)[]'"
    columns += "".join(f", {sql_str(key)}: 'JSON'" for key in others)
    selected = "".join(f', "{key}" as other_{k}' for k, key in enumerate(others))
    return f"""
    create or replace temp table llava_typed as
    select record_index, id, image, conversations{selected}, {_marks_sql()} as marks
    from (
        select ordinality - 1 as record_index, *
        from read_json({path}, format = 'array', records = true, columns = {{{columns}}}) with ordinality
    )
    """


def _marks_sql() -> str:
    """SQL: the <image>/<video> marks over a typed record's turns. Both marks are 7 ASCII bytes,
    so bytes removed / 7 counts them; a turn without '<' (most answers) is not searched."""
    stripped = "t.value"
    for mark in PLACEHOLDERS:
        stripped = f"replace({stripped}, '{mark}', '')"
    per_turn = f"case when contains(t.value, '<') then (strlen(t.value) - strlen({stripped})) // 7 else 0 end"
    return f"coalesce(list_sum(list_transform(conversations, lambda t: {per_turn})), 0)"


def _judge_sql(others: list[str]) -> str:
    """SQL: one row, how many records break a rule of ingest/llava.py or have two other keys
    (whose order the typed read does not keep), and what the typed read saw: keys, strings,
    and the punctuation inside them."""
    # Lambda indexes count from 1: an odd index is a human turn.
    turns_ok = (
        'list_bool_and(list_transform(conversations, lambda t, i: coalesce(t."from" = '
        "case when i % 2 = 1 then 'human' else 'gpt' end and t.value is not null, false)))"
    )
    columns = [f"other_{k}" for k in range(len(others))]
    present = " + ".join([f"({c} is not null)::integer" for c in columns] or ["0"])
    inside = {}
    for char in ('"', ":"):
        in_turn = _count(ROLE, char) + " + " + _count("t.value", char)
        inside[char] = " + ".join(
            [_count("id::varchar", char), _count("image", char)]
            + [_count(f"{c}::varchar", char) for c in columns]
            + [f"coalesce(list_sum(list_transform(conversations, lambda t: {in_turn})), 0)"]
        )
    return f"""
    with judged as (
        select image, conversations, id,
            coalesce(
                json_type(id) in ('VARCHAR', 'UBIGINT', 'BIGINT')
                and len(conversations) > 0
                and {turns_ok}
                and marks <= (image is not null)::integer
                and {present} <= 1,
                false
            ) as ok,
            {present} as others,
            {inside['"']} as quotes,
            {inside[":"]} as colons
        from llava_typed
    )
    select count(*) filter (where not ok), count(id), count(image), count(conversations), coalesce(sum(others), 0),
        coalesce(sum(len(conversations)), 0), coalesce(sum(quotes), 0), coalesce(sum(colons), 0)
    from judged
    """


def _scan_sql(others: list[str]) -> str:
    """SQL: llava_scan (ingest/llava.py) from the typed records, all of them kept."""
    extra = "".join(
        f" when other_{k} is not null then json_object({sql_str(key)}, other_{k})::varchar"
        for k, key in enumerate(others)
    )
    return f"""
    create or replace temp table llava_scan as
    select record_index,
        json_extract_string(id, '$') as id,
        id::varchar as id_json,
        case json_type(id) when 'VARCHAR' then 'string' else 'integer' end as id_type,
        image is not null as has_image,
        image,
        len(conversations)::integer as n_turns,
        {f"case{extra} end" if others else "null::varchar"} as extra,
        (image is not null)::integer as n_images,
        0 as n_videos,
        null::varchar as media,
        null::varchar as layout,
        case when image is not null then [{{'kind': 'image', 'path': image}}] else [] end as media_items,
        image is not null and marks = 0 as implicit,
        null::varchar as problem,
        null::varchar as raw
    from llava_typed
    """


def read_typed(
    con: duckdb.DuckDBPyConnection,
    item: InputFile,
    first_records: list,
    progress: bool,
    counter: RawCounter | None = None,
) -> bool:
    """Read `item` with its types into llava_typed and llava_scan; False (and nothing left
    behind) when the typed read cannot stand for the general one. `item` is a JSON array
    (JSON lines go to the general reader), a plain file (LLaVA files are never zip members,
    ingest/sources.py). `counter`: the file's punctuation, counted by the caller while it
    hashed the file; otherwise counted here, beside the read."""
    if not plain_head(first_records):
        return False
    if counter is None:
        counter = RawCounter()
        threading.Thread(target=counter.count_file, args=(item.path,), daemon=True).start()
    others = other_keys(sampled_keys(item), guessed=True)
    if others is None:  # more key names than the typed read asks for
        _say(progress, f"  {item.name}: too many key names for the typed read; reading records as JSON")
        return False
    outcome = _attempt(con, item, others, progress, counter)
    if outcome == MISSED:  # a key the windows did not show, perhaps: ask every record
        try:
            found = other_keys(discovered_keys(con, sql_str(item.path)), guessed=False)
        except duckdb.Error:  # the typed read parsed the file: not expected, but the general reader decides
            found = None
        if found is None:
            _say(progress, f"  {item.name}: keys the typed read cannot hold; reading records as JSON")
        elif set(found) - set(others):
            others, outcome = found, _attempt(con, item, found, progress, counter)
    if outcome != PROVEN:
        drop(con)
        return False
    con.execute(_scan_sql(others))
    _say(progress, f"  {item.name}: typed read")
    return True


PROVEN, MISSED = "proven", "missed"  # the outcomes of _attempt besides a reason to give up


def _attempt(con, item: InputFile, others: list[str], progress: bool, counter: RawCounter) -> str | None:
    """Read the file typed with `others` as JSON columns: PROVEN when it stands for the general
    read, MISSED when the punctuation shows more keys or strings than it saw, None otherwise."""
    try:
        execute(con, _read_sql(sql_str(item.path), others), f"read {item.name}", item.size, progress)
    except duckdb.Error as exc:
        _say(
            progress,
            f"  {item.name}: the typed read gave up ({str(exc).splitlines()[0][:120]}); reading records as JSON",
        )
        return None
    bad, ids, images, conversations, present, turns, quotes, colons = con.execute(_judge_sql(others)).fetchall()[0]
    if bad:
        _say(progress, f"  {item.name}: {bad:,} records to reject or with several other keys; reading records as JSON")
        return None
    counter.done.wait()
    keys = ids + images + conversations + present + 2 * turns
    strings = images + 2 * turns
    # Outside strings: two quotes per key and per string value; a colon per key. The id and the
    # other keys are JSON text, whose own quotes and colons are in `quotes` and `colons`.
    expected = Punctuation(2 * keys + 2 * strings + quotes, keys + colons)
    raw = counter.counts
    if raw.hiding_escapes or (raw.quotes, raw.colons) != (expected.quotes, expected.colons):
        _say(progress, f"  {item.name}: the typed read does not stand (punctuation {raw} against {expected})")
        return None if raw.hiding_escapes else MISSED
    return PROVEN


def _say(progress: bool, line: str) -> None:
    """A detail line, where the other readers' show (ingest/duck.py): with progress, under -v."""
    if progress:
        detail(line)


def stored_turn_measures() -> str:
    """The select list of what ingest stores beside a turn's `text` and `role` for the
    statistics: its words (svit/core/word_counts.py) and the measures of
    macros/llava_turn_measures.sql (characters, the duplicate hash, Yes / No)."""
    measures = render_with_macros("{{ llava_turn_measures('text', 'role') }}")
    return f"{word_counts.SQL_FUNCTION}(text) as words, {measures}"


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
            select *, {stored_turn_measures()}
            from (
                select record_index, turn, t."from" as role, t.value as text, null::varchar as extra
                from (
                    select record_index, unnest(conversations) as t,
                        (generate_subscripts(conversations, 1) - 1)::integer as turn
                    from llava_typed
                )
            )
        ) to {target} (format parquet, compression zstd, compression_level 1, row_group_size 262144)
        """,
        f"write turns of {item.name}",
        item.size,
        progress,
    )
    drop(con)
