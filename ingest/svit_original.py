"""SVIT's original files (`data/<task>.json`, `data/svit.json`) into conversations, turns, boxes.

The four task files are read together in each pass, so DuckDB parses them on all cores.
Pass 1 (`_scan_blocks`) reads every image item and block into a small table: keys, turn
counts, extra keys and item- or block-level problems. Pass 2 (`_write_turns`) streams the
turns straight into Parquet, leaving out what pass 1 rejected and checking each turn.
Boxes are then parsed from the referring turns just written. A problem found after a
table is written (a bad turn or box) sends that file through pass 2 again without the
rejected blocks, so the published tables never hold part of a rejected block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.duck import execute, sql_list, sql_str
from ingest.sources import SVIT_ALL, Feeds, InputFile
from svit.errors import InputError
from svit.facts import DETAIL_QUESTIONS, TASKS

# The task of each block of svit.json, whose grouping is unverified: inferred from the
# content. Marks mean referring; a detail instruction with one QA means detail; several
# QA pairs mean conversation; one plain QA means complex reasoning.
_INFER_TASK = """
    case
        when contains(blk_json, '<st>') then 'referring_qa'
        when json_array_length(blk_json, '$.content') = 2
             and (json_extract_string(blk_json, '$.content[0].value')) in {detail_questions} then 'detail_description'
        when json_array_length(blk_json, '$.content') > 2 then 'conversation'
        else 'complex_reasoning'
    end
"""


@dataclass
class _Inputs:
    """The SVIT files of one run and how to read them; every read goes through `read`."""

    con: duckdb.DuckDBPyConnection
    files: list[InputFile]
    feeds: Feeds
    progress: bool

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.files)

    def read(self, sql: str, desc: str) -> None:
        with self.feeds.feeding(self.files):
            execute(self.con, sql, desc, self.total_bytes, self.progress)


@dataclass
class SvitCounts:
    """What one SVIT file gave: image items read, blocks and turns written, rejects."""

    records_read: int = 0
    blocks_written: int = 0
    turns_written: int = 0
    boxes_written: int = 0
    rejected: int = 0


def ingest_svit_files(
    con: duckdb.DuckDBPyConnection,
    files: list[InputFile],
    feeds: Feeds,
    stage: Path,
    check_images: bool,
    progress: bool,
) -> dict[InputFile, SvitCounts]:
    """Write conversations, turns and boxes for `files`; rejected blocks go into `rejects`."""
    src = _Inputs(con, files, feeds, progress)
    con.execute(
        "create or replace temp table svit_inputs (path varchar, file_name varchar, task varchar, source_file varchar)"
    )
    for item in files:
        con.execute(
            "insert into svit_inputs values (?, ?, ?, ?)",
            [feeds.path(item), item.name, item.task, item.display],
        )
    _scan_blocks(src, any(i.kind == SVIT_ALL for i in files), check_images)
    _mark_repeated_images(con)
    _refresh_bad(con)
    tasks = _tasks_present(con)
    _write_turns(src, tasks, stage)
    # A turn pass 1 could not judge (a role out of order, a value that is not a string) shows
    # up as a shortfall of written turns: find those blocks, then write the task again.
    short = _turn_shortfall(con, stage)
    if short:
        _diagnose_turns(src)
        _refresh_bad(con)
        _write_turns(src, short, stage)
    if "referring_qa" in tasks:
        if _scan_boxes(con, stage):
            _refresh_bad(con)
            _write_turns(src, ["referring_qa"], stage)
        _write_boxes(con, stage)
    _fill_raw(src)
    _write_conversations(con, stage)
    _collect_rejects(con)
    return _counts(con, files)


def _scan_blocks(src: _Inputs, infer_task: bool, check_images: bool) -> None:
    """Pass 1: one row per block (or per image item that cannot be used), no text kept."""
    con = src.con
    paths = [src.feeds.path(item) for item in src.files]
    task_expr = _INFER_TASK.format(detail_questions="(" + ", ".join(sql_str(q) for q in DETAIL_QUESTIONS) + ")") if infer_task else "i.task"
    image_check = (
        "when not exists (select 1 from images_known k where k.image_id = items.image_id_json::bigint) "
        "then 'image_id ' || (items.image_id_json) || ' is not in image_data.json'"
        if check_images
        else ""
    )
    sql = f"""
    create or replace temp table svit_blocks as
    with raw_items as (
        -- records=false keeps each image item whole, whatever its shape, so nothing is lost.
        select filename as path, ordinality as g, json as item_json
        from read_json({sql_list(paths)}, format = 'array', records = false, filename = true,
                       columns = {{json: 'JSON'}}) with ordinality
    ),
    items as (
        select
            path, g, item_json,
            case when json_type(item_json) = 'OBJECT' then json_extract(item_json, '$.image_id') end as image_id_json,
            case when json_type(item_json) = 'OBJECT' then json_extract(item_json, '$.conversations') end as conversations_json,
            case when json_type(item_json) = 'OBJECT' and len(json_keys(item_json)) > 2
                then json_merge_patch(item_json, '{{"image_id": null, "conversations": null}}') end as item_extra
        from raw_items
    ),
    judged_items as (
        select
            items.*,
            case
                when json_type(item_json) <> 'OBJECT' then 'record is a ' || json_type(item_json) || ', not an object'
                when image_id_json is null then 'missing "image_id"'
                when json_type(image_id_json) not in ('UBIGINT', 'BIGINT') then '"image_id" is not an integer'
                when conversations_json is null then 'missing "conversations"'
                when json_type(conversations_json) <> 'ARRAY' then '"conversations" is not a list'
                {image_check}
            end as item_problem
        from items
    ),
    blocks as (
        select path, g, image_id_json, item_extra, item_problem,
            unnest(json_transform(conversations_json, '["JSON"]')) as blk_json,
            generate_subscripts(json_transform(conversations_json, '["JSON"]'), 1) - 1 as block
        from judged_items
        where item_problem is null
    ),
    judged_blocks as (
        select
            blocks.*,
            case
                when json_type(blk_json) <> 'OBJECT' then 'block is a ' || json_type(blk_json) || ', not an object'
                when json_extract(blk_json, '$.content') is null then 'missing "content"'
                when json_type(blk_json, '$.content') <> 'ARRAY' then '"content" is not a list'
                when json_array_length(blk_json, '$.content') = 0 then 'empty "content"'
            end as block_problem
        from blocks
    )
    select
        i.file_name,
        {task_expr} as task,
        b.g,
        b.image_id_json::bigint as image_id,
        b.block::integer as block,
        case when b.block_problem is null then json_array_length(b.blk_json, '$.content')::integer end as n_turns,
        case when json_type(b.blk_json) = 'OBJECT' and len(json_keys(b.blk_json)) > 1
            then json_merge_patch(b.blk_json, '{{"content": null}}') end as extra,
        b.item_extra,
        b.block_problem as problem,
        case when b.block_problem is not null then b.blk_json end as raw
    from judged_blocks b join svit_inputs i on i.path = b.path
    union all
    select i.file_name, i.task, j.g, try_cast(j.image_id_json as bigint), null, null, null, j.item_extra,
        j.item_problem, j.item_json
    from judged_items j join svit_inputs i on i.path = j.path
    where j.item_problem is not null
    """
    try:
        src.read(sql, "scan blocks")
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise InputError(f"cannot read {_which_file(con, exc)} as a JSON array: {_first_line(exc)}") from exc
    # ordinality runs on across files; make it a 0-based index within each file.
    con.execute(
        """
        create or replace temp table svit_file_start as
        select file_name, min(g) as first_g, max(g) as last_g, count(distinct g) as n_items from svit_blocks group by file_name
        """
    )
    gaps = con.execute("select file_name from svit_file_start where last_g - first_g + 1 <> n_items").fetchall()
    if gaps:  # an item without blocks is fine; only a count that overlaps another file is not
        overlap = con.execute(
            "select a.file_name from svit_file_start a join svit_file_start b on a.file_name < b.file_name "
            "and a.first_g <= b.last_g and b.first_g <= a.last_g"
        ).fetchall()
        if overlap:
            raise RuntimeError("DuckDB interleaved the records of two files; record indexes would be wrong")


def _mark_repeated_images(con) -> None:
    """A second image item with the same image_id in one file is rejected whole."""
    con.execute(
        """
        create or replace temp table svit_repeats as
        with firsts as (
            select file_name, image_id, min(g) as first_g from svit_blocks where image_id is not null group by all
        )
        select s.file_name, s.g, any_value(s.task) as task, s.image_id, any_value(s.item_extra) as item_extra,
            'image_id ' || s.image_id || ' repeats record ' || (f.first_g - fs.first_g) as problem
        from svit_blocks s
        join firsts f on f.file_name = s.file_name and f.image_id = s.image_id and s.g > f.first_g
        join svit_file_start fs on fs.file_name = s.file_name
        group by s.file_name, s.g, s.image_id, f.first_g, fs.first_g
        """
    )
    con.execute("delete from svit_blocks s using svit_repeats r where s.file_name = r.file_name and s.g = r.g")
    con.execute(
        "insert into svit_blocks (file_name, task, g, image_id, item_extra, problem) "
        "select file_name, task, g, image_id, item_extra, problem from svit_repeats"
    )


def _tasks_present(con) -> list[str]:
    found = {row[0] for row in con.execute("select distinct task from svit_blocks where problem is null").fetchall()}
    return [task for task in TASKS if task in found]


# Problems that make the typed reader fail: such files are read whole-item-as-JSON instead.
_SHAPE_PROBLEMS = ("record is a %", '"conversations" is not a list', "block is a %", '"content" is not a list')


# How each later pass reads the image items: read_json columns, and the same as a
# json_transform structure for files pass 1 saw odd shapes in.
_TURNS_READ = (
    """{image_id: 'JSON', conversations: 'STRUCT(content STRUCT("from" JSON, "value" JSON)[])[]'}""",
    '{"image_id": "JSON", "conversations": [{"content": [{"from": "JSON", "value": "JSON"}]}]}',
)
_BLOCKS_READ = ("{image_id: 'JSON', conversations: 'JSON'}", '{"image_id": "JSON", "conversations": "JSON"}')


def _items_sql(con, read: tuple[str, str]) -> str:
    """The image items, typed as `read` says; tolerant of any shape when pass 1 saw odd ones."""
    columns, structure = read
    paths = sql_list(row[0] for row in con.execute("select path from svit_inputs").fetchall())
    odd = con.execute(
        "select count(*) from svit_blocks where " + " or ".join("problem like ?" for _ in _SHAPE_PROBLEMS),
        list(_SHAPE_PROBLEMS),
    ).fetchall()[0][0]
    if not odd:
        return (
            f"select filename as path, ordinality as g, image_id, conversations from read_json({paths}, "
            f"format = 'array', filename = true, columns = {columns}) with ordinality"
        )
    return (
        f"select path, g, j.image_id, j.conversations from (select filename as path, ordinality as g, "
        f"json_transform(json, {sql_str(structure)}) as j from read_json({paths}, format = 'array', "
        f"records = false, filename = true, columns = {{json: 'JSON'}}) with ordinality)"
    )


def _write_turns(src: _Inputs, tasks: list[str], stage: Path) -> None:
    """Pass 2: one Parquet row per turn of every block pass 1 accepted, per task folder."""
    con = src.con
    for task in tasks:
        out = stage / "turns" / f"task={task}"
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.parquet"):
            old.unlink()
    # svit.json mixes tasks in one file, so there the task comes from pass 1, by block.
    mixed = con.execute("select count(*) from svit_inputs where task is null").fetchall()[0][0] > 0
    task_of = "s.task" if mixed else "i.task"
    task_join = (
        "join svit_blocks s on s.file_name = i.file_name and s.g = b.g and s.block = b.block" if mixed else ""
    )
    has_bad = con.execute("select count(*) from svit_bad").fetchall()[0][0] > 0
    exclude = (
        "where not exists (select 1 from svit_bad x where x.file_name = i.file_name and x.g = b.g "
        "and (x.block is null or x.block = b.block))"
        if has_bad
        else ""
    )
    task_list = "(" + ", ".join(sql_str(t) for t in tasks) + ")"
    sql = f"""
    copy (
        with items as ({_items_sql(con, _TURNS_READ)}),
        blocks as (
            select path, g, image_id,
                unnest(conversations).content as content,
                generate_subscripts(conversations, 1) - 1 as block
            from items
        ),
        kept as (
            select {task_of} as task, b.*
            from blocks b join svit_inputs i on i.path = b.path {task_join}
            {exclude}
        ),
        turns as (
            select task, image_id::bigint as image_id, block::integer as block,
                unnest(content) as t, (generate_subscripts(content, 1) - 1)::integer as turn
            from kept
            where task in {task_list}
        )
        select task, image_id, block, turn, json_extract_string(t."from", '$') as role, json_extract_string(t."value", '$') as text
        from turns
        where json_type(t."value") = 'VARCHAR'
          and json_type(t."from") = 'VARCHAR'
          and json_extract_string(t."from", '$') = case when turn % 2 = 0 then 'user' else 'gpt' end
    ) to {sql_str(stage / "turns")} (format parquet, compression zstd, compression_level 1,
        partition_by (task), overwrite_or_ignore, filename_pattern 'turns_{{i}}', row_group_size 262144)
    """
    src.read(sql, "write turns")


def _turn_shortfall(con, stage: Path) -> list[str]:
    """Tasks where fewer turns were written than the accepted blocks hold."""
    rows = con.execute(
        f"""
        with expected as (
            select task, sum(n_turns) as n from svit_blocks where problem is null group by task
        ),
        written as (
            select task, count(*) as n from read_parquet({sql_str(stage / 'turns' / '*' / '*.parquet')}, hive_partitioning = true)
            group by task
        )
        select e.task from expected e left join written w using (task) where coalesce(w.n, 0) <> e.n
        """
    ).fetchall()
    return [task for task in TASKS if (task,) in rows]


def _diagnose_turns(src: _Inputs) -> None:
    """Find the blocks with a bad turn and reject them; slow, and only run on bad input."""
    con = src.con
    src.read(
        f"""
        create or replace temp table svit_turn_problems as
        with items as ({_items_sql(con, _BLOCKS_READ)}),
        blocks as (
            select path, g,
                unnest(json_transform(conversations, '["JSON"]')) as blk_json,
                generate_subscripts(json_transform(conversations, '["JSON"]'), 1) - 1 as block
            from items where json_type(conversations) = 'ARRAY'
        )
        select i.file_name, b.g, b.block::integer as block,
            svit_turns_problem(json_transform(json_extract(b.blk_json, '$.content'), '[{{"from": "JSON", "value": "JSON"}}]'), 'user', 'gpt') as problem
        from blocks b join svit_inputs i on i.path = b.path
        """,
        "find bad turns",
    )
    con.execute(
        """
        update svit_blocks s set problem = p.problem
        from svit_turn_problems p
        where s.file_name = p.file_name and s.g = p.g and s.block = p.block
          and p.problem is not null and s.problem is null
        """
    )


def _refresh_bad(con) -> None:
    con.execute(
        "create or replace temp table svit_bad as "
        "select file_name, g, block, problem from svit_blocks where problem is not null"
    )


def _scan_boxes(con, stage: Path) -> bool:
    """Every box after a `<st>phrase<ed>` mark in the referring turns; True if a block was rejected."""
    turns = sql_str(stage / "turns" / "task=referring_qa" / "*.parquet")
    con.execute(
        f"""
        create or replace temp table svit_box_rows as
        with t as (
            select image_id, block, turn, text from read_parquet({turns})
        ),
        pieces as (
            select image_id, block, turn, text,
                unnest(string_split(text, '<st>')) as piece,
                generate_subscripts(string_split(text, '<st>'), 1) as i
            from t where contains(text, '<st>') or contains(text, '<ed>')
        ),
        placed as (
            -- '<st>' k starts after the k pieces before it and the k-1 '<st>' between them.
            select *, coalesce(sum(length(piece) + 4) over (
                partition by image_id, block, turn order by i rows between unbounded preceding and 1 preceding), 0)::integer - 4 as mark_offset
            from pieces
        ),
        marks as (
            select image_id, block, turn, i - 2 as mark_index, mark_offset, strpos(piece, '<ed>') as ed, piece,
                length(text) - length(replace(text, '<ed>', '')) > length(text) - length(replace(text, '<st>', '')) as stray_ed
            from placed where i > 1 or (i = 1 and contains(piece, '<ed>'))
        ),
        runs as (
            select *,
                case when ed > 0 then piece[1:ed - 1] end as phrase,
                regexp_extract(piece[ed + 4:], '^( ?)((?:\\[[^\\]\\[]*\\])(?:, \\[[^\\]\\[]*\\])*)', ['lead', 'run']) as r
            from marks
        ),
        boxes as (
            select image_id, block, turn, mark_index, mark_offset, phrase, ed, stray_ed,
                mark_offset + 8 + length(phrase) + length(r.lead) as run_offset,
                unnest(case when r.run = '' then [null] else string_split(r.run, '], [') end) as part,
                generate_subscripts(case when r.run = '' then [null] else string_split(r.run, '], [') end, 1) as k,
                len(string_split(r.run, '], [')) as n_parts
            from runs
        ),
        texts as (
            select *, case when part is not null then
                (case when k > 1 then '[' else '' end) || part || (case when k < n_parts then ']' else '' end) end as box_text
            from boxes
        ),
        placed_boxes as (
            select *,
                run_offset + coalesce(sum(length(box_text) + 2) over (
                    partition by image_id, block, turn, mark_index order by k rows between unbounded preceding and 1 preceding), 0)::integer as box_offset,
                regexp_extract(box_text, '^\\[([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\\]$', ['x1', 'y1', 'x2', 'y2']) as v
            from texts
        )
        select image_id, block, turn, mark_index::integer as mark_index, mark_offset, phrase, (k - 1)::integer as box_index,
            box_text, box_offset,
            try_cast(nullif(v.x1, '') as double) as x1, try_cast(nullif(v.y1, '') as double) as y1,
            try_cast(nullif(v.x2, '') as double) as x2, try_cast(nullif(v.y2, '') as double) as y2,
            case
                when mark_index < 0 or stray_ed then '<ed> without <st>'
                when ed = 0 then 'unclosed <st> at offset ' || mark_offset
                when box_text is null then null
            end as mark_problem
        from placed_boxes
        """
    )
    con.execute(
        """
        create or replace temp table svit_box_problems as
        with judged as (
            select *, coalesce(mark_problem, case
                when box_text is null then null
                when x1 is null or y1 is null or x2 is null or y2 is null then 'malformed box ' || box_text
                when least(x1, y1, x2, y2) < 0 or greatest(x1, y1, x2, y2) > 1 then 'box ' || box_text || ' outside 0..1'
                when x2 < x1 then 'box ' || box_text || ' has x2 < x1'
                when y2 < y1 then 'box ' || box_text || ' has y2 < y1'
            end) as problem
            from svit_box_rows
        )
        select s.file_name, s.g, j.block, j.turn, j.mark_index,
            'turn ' || j.turn || ': ' || j.problem as problem
        from judged j
        join svit_blocks s on s.task = 'referring_qa' and s.image_id = j.image_id and s.block = j.block and s.problem is null
        where j.problem is not null
        """
    )
    con.execute(
        """
        update svit_blocks s set problem = p.problem
        from (select distinct on (file_name, g, block) * from svit_box_problems order by file_name, g, block, turn, mark_index) p
        where s.file_name = p.file_name and s.g = p.g and s.block = p.block and s.problem is null
        """
    )
    return con.execute("select count(*) from svit_box_problems").fetchall()[0][0] > 0


def _write_boxes(con, stage: Path) -> None:
    out = stage / "boxes" / "task=referring_qa"
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        copy (
            select b.image_id, b.block, b.turn, b.mark_index, b.phrase, b.box_index,
                b.x1, b.y1, b.x2, b.y2, b.box_text, b.mark_offset, b.box_offset
            from svit_box_rows b
            where b.box_text is not null
              and not exists (select 1 from svit_blocks s where s.task = 'referring_qa'
                              and s.image_id = b.image_id and s.block = b.block and s.problem is not null)
            order by b.image_id, b.block, b.turn, b.mark_index, b.box_index
        ) to {sql_str(out / 'boxes_0.parquet')} (format parquet, compression zstd, compression_level 1)
        """
    )


def _fill_raw(src: _Inputs) -> None:
    """Put the JSON of each rejected block (or image item) that pass 1 did not keep into its reject."""
    con = src.con
    if not con.execute("select count(*) from svit_blocks where problem is not null and raw is null").fetchall()[0][0]:
        return
    src.read(
        f"""
        update svit_blocks s set raw = r.raw
        from (
            with items as ({_items_sql(con, _BLOCKS_READ)})
            select i.file_name, items.g, s.block,
                case when s.block is null
                    then json_merge_patch(json_object('image_id', items.image_id, 'conversations', items.conversations),
                                          coalesce(s.item_extra, '{{}}'))
                    else json_extract(items.conversations, '$[' || s.block || ']') end as raw
            from items
            join svit_inputs i on i.path = items.path
            join svit_blocks s on s.file_name = i.file_name and s.g = items.g and s.problem is not null and s.raw is null
        ) r
        where s.file_name = r.file_name and s.g = r.g and s.block is not distinct from r.block and s.problem is not null
        """,
        "keep rejected JSON",
    )


def _write_conversations(con, stage: Path) -> None:
    con.execute(
        f"""
        copy (
            select s.task, s.image_id, s.block, s.n_turns, i.file_name as source_file,
                (s.g - f.first_g)::bigint as record_index, s.extra, s.item_extra
            from svit_blocks s
            join svit_inputs i using (file_name)
            join svit_file_start f using (file_name)
            where s.problem is null
            order by i.file_name, s.g, s.block
        ) to {sql_str(stage / 'conversations')} (format parquet, compression zstd, compression_level 1,
            partition_by (task), overwrite_or_ignore, filename_pattern 'conversations_{{i}}')
        """
    )


def _collect_rejects(con) -> None:
    con.execute(
        """
        insert into rejects
        select i.file_name, i.source_file, (s.g - f.first_g)::bigint, s.block, s.problem, s.raw::varchar
        from svit_blocks s
        join svit_inputs i using (file_name)
        join svit_file_start f using (file_name)
        where s.problem is not null
        order by i.file_name, s.g, s.block
        """
    )


def _counts(con, files: list[InputFile]) -> dict[InputFile, SvitCounts]:
    rows = con.execute(
        """
        select s.file_name,
            count(distinct s.g),
            count(*) filter (where s.problem is null),
            coalesce(sum(s.n_turns) filter (where s.problem is null), 0),
            count(*) filter (where s.problem is not null)
        from svit_blocks s group by s.file_name
        """
    ).fetchall()
    boxes = dict(
        con.execute(
            "select 'referring_qa', count(*) from svit_box_rows b where b.box_text is not null and not exists "
            "(select 1 from svit_blocks s where s.task = 'referring_qa' and s.image_id = b.image_id "
            "and s.block = b.block and s.problem is not null)"
        ).fetchall()
        if con.execute("select count(*) from duckdb_tables() where table_name = 'svit_box_rows'").fetchall()[0][0]
        else []
    )
    by_name = {row[0]: row[1:] for row in rows}
    counts = {}
    for item in files:
        read, blocks, turns, rejected = by_name.get(item.name, (0, 0, 0, 0))
        counts[item] = SvitCounts(read, blocks, turns, boxes.get(item.task, 0), rejected)
    return counts


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def _which_file(con, exc: BaseException) -> str:
    text = str(exc)
    for path, display in con.execute("select path, source_file from svit_inputs").fetchall():
        if path in text:
            return display
    return ", ".join(row[0] for row in con.execute("select source_file from svit_inputs").fetchall())
