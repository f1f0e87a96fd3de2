"""The SQL of the DuckDB scans of SVIT's files (`data/<task>.json`, `data/svit.json`).

Three reads of the same JSON array, fastest first: the typed read (`typed_scan_sql`), and
the read of each block as JSON text, or of each item whole for odd shapes
(`json_scan_sql`). Each yields the turns plus one small row per block or unusable item;
ingest/svit_original.py chooses among them and routes their rows. A turn's `role` is
written as the warehouse spells it (`human` / `gpt`, `stored_role_sql`); its checks and the
reasons of its rejects speak of SVIT's own `user` / `gpt`, as the file does.
"""

from __future__ import annotations

from ingest.checks import turn_problem, unknown_image_problem
from svit.core.facts import DETAIL_QUESTIONS
from svit.core.sql import sql_ident, sql_str

# svit.json's grouping is unverified, so there each block's task is inferred from its
# content: marks mean referring; a detail instruction with one QA means detail; several QA
# pairs mean conversation; one plain QA means complex reasoning.
_INFERRED_TASK = """
    case
        when {marked} then 'referring_qa'
        when len(content) = 2 and content[1]."value" in {questions} then 'detail_description'
        when len(content) > 2 then 'conversation'
        else 'complex_reasoning'
    end
"""


def _task_sql(infer_task: str | None, marked: str) -> str:
    """SQL: a block's task, given, or inferred (svit.json); `marked`: whether it holds `<st>`."""
    if infer_task is not None:
        return sql_str(infer_task)
    return _INFERRED_TASK.format(marked=marked, questions="(" + ", ".join(sql_str(q) for q in DETAIL_QUESTIONS) + ")")


_TURN_TYPE = 'struct("from" varchar, "value" varchar)'


# The warehouse spells roles as LLaVA does (docs/warehouse.md, "Roles"): SVIT's `user` is
# stored as `human`, `gpt` stays. Only user/gpt turns are kept, so the mapping is one to
# one and SVIT's spelling comes back as `case role when 'human' then 'user' else role end`.
# Any other value (a turn about to be rejected) keeps its spelling: the typed read's
# punctuation proof counts the text of this column.
def stored_role_sql(source: str) -> str:
    """SQL: the role the warehouse stores for SVIT's `from` value `source` (`user` -> `human`)."""
    return f"case {source} when 'user' then 'human' else {source} end"


def typed_scan_sql(path: str, check_images: bool, infer_task: str | None, extra_keys: list[str]) -> str:
    """The fast scan of a well-formed file: turns read typed, one row per turn.

    A block's first row carries the block (`n_turns`, `extra`); an empty block, or an item
    whose image is unknown, is one row without a turn. Extra block keys are read only when
    named in `extra_keys`. `odd` marks what this reader cannot judge (a missing key, a
    null, an empty item): the caller then uses `json_scan_sql`, as it does when the file's
    punctuation shows a key or a non-string value this read did not see (json_punctuation).
    """
    extra_fields = "".join(f", {sql_ident(k)} JSON" for k in extra_keys)
    block_type = f'STRUCT(content STRUCT("from" VARCHAR, "value" VARCHAR)[]{extra_fields})[]'
    # The keys this block has (a key it lacks reads as NULL), as one JSON object; a map keeps
    # their values as written, where json_merge_patch would also drop nested nulls.
    pairs = ", ".join(f"{{'k': {sql_str(k)}, 'v': blk.{sql_ident(k)}}}" for k in extra_keys)
    extra = (
        f"case when coalesce({', '.join(f'blk.{sql_ident(k)}' for k in extra_keys)}) is not null "
        f"then to_json(map_from_entries(list_filter([{pairs}], lambda e: e.v is not null))) end"
        if extra_keys
        else "null::json"
    )
    # The JSON read looks for <st> in the block's text; here the same strings are its turns and extra keys.
    task = _task_sql(
        infer_task,
        "(list_bool_or(list_transform(content, lambda t: "
        "contains(t.\"from\", '<st>') or contains(t.\"value\", '<st>')))"
        " or contains(coalesce(extra::varchar, ''), '<st>'))",
    )
    placeholder = f"[null::{_TURN_TYPE}]"
    columns = f"{{image_id: 'JSON', conversations: '{block_type}'}}"
    return f"""
    with items as (
        select ordinality - 1 as record_index, image_id as image_id_json, conversations
        from read_json({path}, format = 'array', columns = {columns}) with ordinality
    ),
    judged_items as (
        select *,
            image_id_json is null or json_type(image_id_json) not in ('UBIGINT', 'BIGINT')
                or conversations is null or len(conversations) = 0 as odd_item,
            {unknown_image_problem("image_id_json", check_images)} as item_problem
        from items
    ),
    blocks as (
        -- Every block is unnested, even of an item rejected whole: the punctuation check
        -- needs all turns; the caller keeps one row of such an item.
        select record_index, image_id_json, odd_item, item_problem,
            unnest(case when len(conversations) > 0 then conversations else [null] end) as blk,
            generate_subscripts(case when len(conversations) > 0 then conversations else [null] end, 1) - 1 as block
        from judged_items
    ),
    typed_blocks as (
        select *, blk.content as content, {extra} as extra, len(blk.content) as n,
            odd_item or blk is null or blk.content is null as odd_block
        from blocks
    ),
    rows as (
        select record_index, image_id_json, block, item_problem, odd_block, n, extra, {task} as task,
            unnest(case when n > 0 then content else {placeholder} end) as t,
            generate_subscripts(case when n > 0 then content else {placeholder} end, 1) - 1 as k
        from typed_blocks
    )
    select
        task,
        record_index::bigint as record_index,
        try_cast(image_id_json as bigint) as image_id,
        block::integer as block,
        case when n > 0 then k::integer end as turn,
        {stored_role_sql('t."from"')} as role,
        t."value" as text,
        case when item_problem is not null then item_problem
            when n = 0 then 'empty "content"'
            else {turn_problem("t", "k", "user", "gpt", json_leaves=False)}
        end as problem,
        case when k = 0 then coalesce(n, 0)::integer end as n_turns,
        case when k = 0 then extra::varchar end as extra,
        item_problem is not null as item_rejected,
        odd_block or (n > 0 and (t is null or t."from" is null or t."value" is null)) as odd
    from rows
    """


def json_scan_sql(
    path: str, check_images: bool, infer_task: str | None, tolerant: bool, turns_only: bool = False
) -> str:
    """One row per turn (`is_turn`) and one per block or unusable image item.

    `turns_only`: just the turns, without the blocks listed in `svit_exclude` (a rescan).
    """
    if tolerant:
        # Any shape: each item whole as JSON, typed afterwards (slower; only for odd files).
        conversations_type = "json_type(json, '$.conversations')"
        items = f"""
            select ordinality - 1 as record_index,
                case when json_type(json) = 'OBJECT' then json_extract(json, '$.image_id') end as image_id_json,
                case when {conversations_type} = 'ARRAY'
                    then json_transform(json_extract(json, '$.conversations'), '["JSON"]') end as conversations,
                case when json_type(json) <> 'OBJECT' then 'record is a ' || json_type(json) || ', not an object'
                     when {conversations_type} <> 'ARRAY' then '"conversations" is not a list' end as shape_problem,
                json as item_json
            from read_json({path}, format = 'array', records = false, columns = {{json: 'JSON'}}) with ordinality
        """
    else:
        columns = "{image_id: 'JSON', conversations: 'JSON[]'}"
        items = f"""
            select ordinality - 1 as record_index, image_id as image_id_json, conversations,
                null::varchar as shape_problem, null::json as item_json
            from read_json({path}, format = 'array', columns = {columns}) with ordinality
        """
    task = _task_sql(infer_task, "contains(blk::varchar, '<st>')")
    block_rows = f"list_append(case when block_problem is null then content end, null::{_TURN_TYPE})"
    # A rescan: just the turns, of the blocks not listed in svit_exclude.
    where = (
        "where k < n and (record_index, block) not in (select (record_index, block) from svit_exclude)"
        if turns_only
        else ""
    )
    return f"""
    with items as ({items}),
    judged_items as (
        select record_index, image_id_json, conversations, item_problem,
            -- Only the tolerant read has the whole item; for the others _fill_raw
            -- (ingest/svit_original.py) reads it again for the reject.
            case when item_problem is not null then item_json::varchar end as item_raw
        from (
            select *,
                case
                    when shape_problem is not null then shape_problem
                    when image_id_json is null then 'missing "image_id"'
                    when json_type(image_id_json) not in ('UBIGINT', 'BIGINT') then '"image_id" is not an integer'
                    when conversations is null then 'missing "conversations"'
                    else {unknown_image_problem("image_id_json", check_images)}
                end as item_problem
            from items
        )
    ),
    blocks as (
        -- An unusable item stays as one row without a block, so it is reported, not dropped.
        select record_index, image_id_json, item_problem, item_raw,
            unnest(case when item_problem is null then conversations else [null::json] end) as blk,
            generate_subscripts(case when item_problem is null then conversations else [null::json] end, 1) - 1 as block
        from judged_items
    ),
    typed as (
        select *,
            json_transform(blk, '{{"content": [{{"from": "VARCHAR", "value": "VARCHAR"}}]}}').content as content,
            -- Most blocks are just {{"content":[...]}}: in DuckDB's compact JSON text another key
            -- either comes first or follows the list as `],"`, which cannot occur inside a
            -- string. Only blocks that fail this cheap test have their keys parsed.
            case when not (starts_with(blk::varchar, '{{"content":[') and not contains(blk::varchar, '],"'))
                and json_type(blk) = 'OBJECT' and len(json_keys(blk)) > 1
                then json_merge_patch(blk, '{{"content": null}}') end as extra
        from blocks
    ),
    judged_blocks as (
        select record_index, image_id_json, block, item_problem, extra, content, problem as block_problem,
            {task} as task,
            case when item_problem is not null then item_raw when problem is not null then blk::varchar end as raw
        from (
            select *,
                case
                    when item_problem is not null then item_problem
                    when content is null or len(content) = 0 then case
                        when json_type(blk) <> 'OBJECT' then 'block is a ' || json_type(blk) || ', not an object'
                        when json_type(blk, '$.content') is null then 'missing "content"'
                        when json_type(blk, '$.content') <> 'ARRAY' then '"content" is not a list'
                        else 'empty "content"' end
                    -- The turns were read as text, which would turn 5 into '5'. In compact JSON a
                    -- key followed by anything but a quote has a non-string value; only such
                    -- blocks get the exact check on JSON-typed turns.
                    when regexp_matches(blk::varchar, '"(?:from|value)":[^"]') then list_filter(
                        list_transform(
                            json_transform(blk, '{{"content": [{{"from": "JSON", "value": "JSON"}}]}}').content,
                            lambda jt, i: {turn_problem("jt", "(i - 1)", "user", "gpt")}),
                        lambda p: p is not null)[1]
                end as problem
            from typed
        )
    ),
    rows as (
        -- Each block's turns, then one more row (t null) that stands for the block itself.
        select record_index, image_id_json, block, block_problem, extra, item_problem, task, raw,
            case when block_problem is null then len(content) else 0 end as n,
            unnest({block_rows}) as t,
            generate_subscripts({block_rows}, 1) - 1 as k
        from judged_blocks
    )
    select
        k < n as is_turn,
        task,
        record_index::bigint as record_index,
        try_cast(image_id_json as bigint) as image_id,
        case when item_problem is null then block::integer end as block,
        case when k < n then k::integer end as turn,
        case when k < n then {stored_role_sql('t."from"')} end as role,
        case when k < n then t."value" end as text,
        case when k < n then {turn_problem("t", "k", "user", "gpt", json_leaves=False)}
            else block_problem
        end as problem,
        case when k = n then n::integer end as n_turns,
        case when k = n then extra::varchar end as extra,
        case when k = n then raw end as raw
    from rows
    {where}
    """
