"""`svit verify`: the official LLaVA-1.5 files against the records derived from data/.

The official files' ids are in a format of their own, so records are matched by content:
the image, and the text of every turn with what the conversion changes taken out (the
`<image>` token, `<st>`/`<ed>`, the numbers inside boxes, the instruction after a
referring question). The matching lives in one place, the dbt model
`int_llava_records_matched` (macros/recipes/content_match.sql), which the published mixes
use too. A matched record is then compared string for string with the derived one
(`llava_svit_all`), the official instruction put in place of ours, since BAAI's random
choice cannot be regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from svit.core.errors import SvitError
from svit.core.facts import REFERRING_INSTRUCTIONS
from svit.core.session import open_session
from svit.core.sql import sql_str
from svit.core.warehouse import Warehouse


@dataclass
class FileReport:
    source: str
    per_record: str = ""  # Parquet file: one row per official record, its match and instruction
    records: int = 0
    matched: int = 0
    differing: int = 0
    unmatched: int = 0
    instructions: dict[str, int] = field(default_factory=dict)
    differences: list[dict] = field(default_factory=list)


_INSTRUCTIONS = "|".join(s.replace(".", "\\.") for s in REFERRING_INSTRUCTIONS)
MATCH_MODEL = "int_llava_records_matched"


def official_sources(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(model name, file name) of the ingested files that came from format/llava-v1.5/."""
    return con.execute(
        """
        select distinct r.source, r.source_file from llava_records r
        join manifest m on m.name = r.source_file
        where m.path like '%format/llava-v1.5/%'
        order by 1
        """
    ).fetchall()


def verify(warehouse: Warehouse, show: int = 5) -> list[FileReport]:
    """Match and compare every record of the official files; one report per file.

    Each file's per-record result goes to <warehouse>/verify/<file>.parquet: record_index,
    official id, the derived id it matched (or null), whether it differs, its instruction.
    """
    session = open_session(warehouse)
    try:
        con = session.con
        missing = [m for m in ("llava_svit_all", MATCH_MODEL) if m not in session.models]
        if missing:
            raise SvitError(f"no {' or '.join(missing)} in {warehouse.duckdb_path}: run `svit build` first")
        sources = official_sources(con)
        if not sources:
            raise SvitError(
                "no official LLaVA files in the warehouse: ingest a download that has format/llava-v1.5/*.json"
            )
        _matches(con, [source for source, _ in sources])
        out = warehouse.root / "verify"
        out.mkdir(exist_ok=True)
        return [_verify_file(con, source, file_name, show, out) for source, file_name in sources]
    finally:
        session.close()


def _matches(con, sources: list[str]) -> None:
    """The official records' matches, computed once for all files (the view keys every block)."""
    con.execute(
        f"""
        create temp table matches as
        select llava_file as source, record_index, derived_id, task, instruction
        from {MATCH_MODEL}
        where llava_file in (select unnest(?::varchar[])) and derived_id is not null
        """,
        [sources],
    )


def _verify_file(con, source: str, file_name: str, show: int, out) -> FileReport:
    report = FileReport(file_name)
    con.execute(
        """
        create or replace temp table official as
        select r.record_index, r.id, r.image,
            list({'from': t.role, 'value': t.text} order by t.turn) as conversations
        from llava_records r join llava_turns t on t.source = r.source and t.record_index = r.record_index
        where r.source = ?
        group by r.record_index, r.id, r.image
        """,
        [source],
    )
    # The comparison runs in SQL: only the records that differ (and the first few of them)
    # come back to Python.
    con.execute(
        f"""
        create or replace temp table matched as
        with pairs as (
            select o.record_index, o.id as official_id, o.conversations as official,
                m.derived_id, m.task, a.conversations as derived, m.instruction
            from official o
            join matches m on m.source = ? and m.record_index = o.record_index
            join llava_svit_all a on a.id = m.derived_id
        )
        select record_index, official_id, derived_id, task, instruction,
            -- Referring questions: ours with the official instruction in place of our own.
            official <> case when task = 'referring_qa' then list_transform(derived, lambda t: {{
                'from': t."from",
                'value': case when t."from" = 'human'
                    then regexp_replace(t.value, ' ({_INSTRUCTIONS})$', '') || coalesce(' ' || instruction, '')
                    else t.value end}})
                else derived end as differs
        from pairs
        """,
        [source],
    )
    report.records = con.execute("select count(*) from official").fetchall()[0][0]
    report.matched, report.differing = con.execute(
        "select count(*), count(*) filter (where differs) from matched"
    ).fetchall()[0]
    report.unmatched = report.records - report.matched
    report.matched -= report.differing
    report.instructions = dict(
        con.execute(
            "select coalesce(instruction, 'none'), count(*) from matched where task = 'referring_qa' "
            "group by 1 order by 2 desc"
        ).fetchall()
    )
    target = out / f"{source}.parquet"
    status = "case when m.record_index is null then 'unmatched' when m.differs then 'differs' else 'matched' end"
    con.execute(
        f"""
        copy (
            select o.record_index, o.id as official_id, m.derived_id, m.task,
                {status} as status,
                m.instruction
            from official o left join matched m using (record_index)
            order by o.record_index
        ) to {sql_str(target)} (format parquet)
        """
    )
    report.per_record = str(target)
    rows = con.execute(
        f"""
        select m.record_index, m.official_id, m.derived_id, m.instruction, o.conversations, a.conversations
        from (select * from matched where differs order by record_index limit {int(show)}) m
        join official o using (record_index)
        join llava_svit_all a on a.id = m.derived_id
        order by m.record_index
        """
    ).fetchall()
    for record_index, official_id, derived_id, instruction, official, derived in rows:
        if instruction is not None or _instruction_of(derived[0]["value"]):
            derived = [_with_instruction(turn, instruction) for turn in derived]
        report.differences.append(_first_difference(record_index, official_id, derived_id, official, derived))
    return report


def _instruction_of(question: str) -> str | None:
    return next((s for s in REFERRING_INSTRUCTIONS if question.endswith(" " + s)), None)


def _with_instruction(turn: dict, used: str | None) -> dict:
    """A derived referring turn with the official record's instruction in place of ours."""
    if turn["from"] != "human":
        return dict(turn)
    ours = _instruction_of(turn["value"])
    value = turn["value"][: -len(" " + ours)] if ours else turn["value"]
    return {"from": "human", "value": value + (" " + used if used else "")}


def _first_difference(record_index, official_id, derived_id, official, derived) -> dict:
    for turn, (a, b) in enumerate(zip(official, derived, strict=False)):
        if dict(a) != dict(b):
            return {
                "record_index": record_index,
                "official_id": official_id,
                "derived_id": derived_id,
                "turn": turn,
                "official": dict(a),
                "derived": dict(b),
            }
    return {
        "record_index": record_index,
        "official_id": official_id,
        "derived_id": derived_id,
        "turn": None,
        "official": f"{len(official)} turns",
        "derived": f"{len(derived)} turns",
    }
