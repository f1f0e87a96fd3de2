"""Running `svit check MODEL`: the rules (svit/check/rules.py) over the model's records, one
streamed pass for those that read the turns (svit/check/turns.py) and SQL statements for those
that compare records or join other tables; the findings into the table `check_results` of
svit.duckdb, and a summary per rule on the terminal and as Markdown and HTML beside the stats
report.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from svit.check.benchmarks import contamination_ctes, load_benchmarks, question_grams
from svit.check.rules import (
    ERROR,
    FAILURE_PHRASES_VERSION,
    FAMILIES,
    NEEDS,
    RULES,
)
from svit.check.turns import find_turn_findings
from svit.core import snapshots
from svit.core.errors import SvitError, first_line
from svit.core.files import atomic_write_text
from svit.core.models_db import (
    CHECK_RESULTS,
    CHECK_RUNS,
    IMAGE_FILES,
    LLAVA_COLUMNS,
    RECORD_TOKENS,
    built_relations,
    connect,
    file_images_sql,
    ids_digest_sql,
    read_parts,
)
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse

# The findings, and one row per model checked (its last check): which rules ran, so that a
# recipe's `exclude:` can tell "checked, nothing found" from "never checked".
TABLE, RUNS = CHECK_RESULTS, CHECK_RUNS
EXAMPLES = 3  # record ids shown per rule; the table holds them all


@dataclass
class RuleSummary:
    rule: str
    severity: str
    records: int
    share: float
    examples: list[str]


@dataclass
class CheckResult:
    model: str
    family: str
    records: int
    rules: list[RuleSummary]  # every rule evaluated, those that found nothing included
    skipped: dict[str, str] = field(default_factory=dict)  # rule group -> why it was not evaluated
    report: Path | None = None
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(r.records for r in self.rules if r.severity == ERROR)


def check(
    warehouse: Warehouse,
    model: str,
    family: str = "llava-1.5",
    max_length: int | None = None,
    benchmarks: Path | None = None,
) -> CheckResult:
    """Evaluate the rules on `model` (a model or mix in svit.duckdb, or an ingested LLaVA file);
    the length rule with `max_length`, from the counts `svit tokens` made for `family`; the
    contamination rules against the lists in the folder `benchmarks` (svit/check/benchmarks.py)."""
    if family not in FAMILIES:
        raise SvitError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    started = time.perf_counter()
    with snapshots.write_lock(warehouse.root, "check"):
        records, record_images = _records_sql(warehouse, model)
        con = connect(warehouse, read_only=False)
        try:
            present = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
            skipped = {
                group: f"needs the table {table} ({command})"
                for group, (table, command) in NEEDS.items()
                if table not in present
            }
            if benchmarks is None:
                skipped["contamination"] = "needs --benchmarks DIR (a list of images or questions per benchmark)"
            else:
                load_benchmarks(con, Path(benchmarks))
            images = None
            if "images" not in skipped:
                images, unscanned = _images_sql(con, record_images)
                if unscanned:
                    skipped["images (part)"] = (
                        f"{unscanned:,} records' images are not in image_files (svit images ROOT --model {model})"
                    )
            lengths = None
            if "length" not in skipped:
                lengths, why = _lengths_sql(con, model, family, max_length)
                if why:
                    skipped["length"] = why
            total = con.execute(f"select count(*) from ({records})").fetchall()[0][0]
            evaluated = [r.name for r in RULES.values() if r.group not in skipped]
            _evaluate(con, model, family, records, lengths, evaluated, skipped, benchmarks is not None, images)
            rules = _summaries(con, model, total)
        except duckdb.Error as exc:
            raise SvitError(f"check of {model} failed: {first_line(exc)}") from exc
        finally:
            con.close()
    result = CheckResult(model, family, total, rules, skipped, seconds=time.perf_counter() - started)
    result.report = _write_report(warehouse, result)
    return result


def _records_sql(warehouse: Warehouse, model: str) -> tuple[str, str]:
    """The records of `model` as (id, record_index, image, media_key, n_media, conversations),
    and every image of every record as (record_index, image): a model's one `image`, an
    ingested file's images from stg_llava__media (several per LLaVA-NeXT or ShareGPT record)."""
    relations = built_relations(warehouse)
    if model in relations and LLAVA_COLUMNS <= relations[model]:
        tables = [sql_ident(table) for table in read_parts(model, relations)]
        return " union all ".join(
            f"select id, record_order as record_index, image, image as media_key, "
            f"(image is not null)::integer as n_media, conversations from {table}"
            for table in tables
        ), " union all ".join(
            f"select record_order as record_index, image from {table} where image is not null" for table in tables
        )
    if model in warehouse.llava_models():
        name = sql_str(model)
        return (
            "select r.id, r.record_index, r.image, coalesce(r.media, r.image) as media_key, "
            # A file ingested before records counted their media has one image or none.
            "coalesce(r.n_images + r.n_videos, r.has_image::integer) as n_media, "
            "coalesce(t.conversations, []) as conversations "
            f"from stg_llava__records r left join (select record_index, list({{'from': role, 'value': text}} "
            f"order by turn) as conversations from stg_llava__turns where llava_file = {name} group by all) t "
            f"using (record_index) where r.llava_file = {name}"
        ), f"select record_index, path as image from ({file_images_sql(model)})"
    known = sorted({m for m, c in relations.items() if LLAVA_COLUMNS <= c} | set(warehouse.llava_models()))
    raise SvitError(f"no model named {model!r}; models: {', '.join(known) or 'none: run `svit build` first'}")


def _images_sql(con: duckdb.DuckDBPyConnection, record_images: str) -> tuple[str, int]:
    """The image problems `svit images` found, per record and category as SQL (record_index,
    category, detail; a record with several such images names each), and how many records of
    the model have an image without a row in image_files (scanned for other models, or not at all)."""
    [(unscanned,)] = con.execute(
        f"select count(distinct record_index) from ({record_images}) r "
        f"where not exists (select 1 from {IMAGE_FILES} f where f.path = r.image)"
    ).fetchall()
    problems = (
        "select r.record_index, f.problem as category, case when count(*) = 1 then any_value(f.problem_detail) "
        "else string_agg(r.image || ': ' || f.problem_detail, '; ' order by r.image) end as detail "
        f"from ({record_images}) r inner join {IMAGE_FILES} f on f.path = r.image "
        "where f.problem is not null group by all"
    )
    return problems, unscanned


def _lengths_sql(
    con: duckdb.DuckDBPyConnection, model: str, family: str, max_length: int | None
) -> tuple[str | None, str | None]:
    """The length rule's findings as SQL over record_tokens, or why the rule cannot run."""
    if max_length is None:
        return None, "needs --max-length N, the trainer's cut-off"
    counted = con.execute(
        f"select count(*) from {RECORD_TOKENS} where model = ? and family = ?", [model, family]
    ).fetchall()[0][0]
    if not counted:
        return (
            None,
            f"no counts of {model} for {family} in {RECORD_TOKENS} (svit tokens --family {family} --model {model})",
        )
    # Several tokenizers may have counted the family: the longest count decides.
    return (
        f"select record, max(total_tokens) as tokens from {RECORD_TOKENS} where model = {sql_str(model)} "
        f"and family = {sql_str(family)} group by record having max(total_tokens) > {int(max_length)}"
    ), None


def _evaluate(
    con: duckdb.DuckDBPyConnection,
    model: str,
    family: str,
    records: str,
    lengths: str | None,
    evaluated: list[str],
    skipped: dict[str, str],
    contamination: bool = False,
    images: str | None = None,
) -> None:
    # Each group of rules is its own statement over the records (a view): one query of them all
    # made DuckDB hold the records and every intermediate at once (9.7 GB at full scale).
    groups = [
        "select id, record_index, 'duplicate_id', 'the id of ' || n || ' records' "
        "from (select id, record_index, count(*) over (partition by id) as n from recs) where n > 1",
        # records that hash like an earlier one (the pass), compared with the earliest
        "select d.id, d.record_index, 'exact_duplicate', 'the same as record ' || s.first from same_content s "
        "inner join recs d on d.record_index = s.record_index inner join recs f on f.record_index = s.first "
        "where d.media_key is not distinct from f.media_key and d.conversations = f.conversations",
        "select recs.id, record_index, rule, detail from turn_findings inner join recs using (record_index)",
        "select null, null, 'single_modality', case when count(*) filter (where n_media > 0) = 0 "
        "then 'no record has an image' else 'every record has an image' end from recs "
        "having count(*) > 0 and count(*) filter (where n_media > 0) in (0, count(*))",
    ]
    if contamination:
        groups.append(f"with {contamination_ctes()} select id, record_index, rule, detail from contaminated")
    if images:
        groups.append(
            f"select recs.id, recs.record_index, 'image_' || p.category, p.detail "
            f"from recs inner join ({images}) as p using (record_index)"
        )
    if lengths:
        groups.append(
            f"select recs.id, recs.record_index, 'over_max_length', l.tokens || ' tokens' "
            f"from recs inner join ({lengths}) as l on l.record = recs.record_index"
        )
    severity = "case rule " + " ".join(f"when {sql_str(r.name)} then {sql_str(r.severity)}" for r in RULES.values())
    con.execute(
        f"create table if not exists {TABLE} (model varchar, record_id varchar, record_index bigint, rule varchar, "
        "severity varchar, detail varchar, family varchar, phrases_version integer, checked_at varchar)"
    )
    columns = (
        "model varchar, family varchar, records bigint, rules varchar[], skipped_rules varchar[], "
        "model_rules varchar[], skipped varchar, checked_at varchar, ids_md5 varchar"
    )
    held = [
        r[0] for r in con.execute(f"select column_name from duckdb_columns() where table_name = '{RUNS}'").fetchall()
    ]
    if held and held != [c.split()[0] for c in columns.split(", ")]:
        # Written by an older svit: its rows cannot say what `exclude:` needs; the models
        # checked before are checked again when a recipe asks.
        con.execute(f"drop table {RUNS}")
    con.execute(f"create table if not exists {RUNS} ({columns})")
    con.execute(f"create or replace temp view recs as {records}")
    con.execute(
        "create or replace temp table check_found "
        "(record_id varchar, record_index bigint, rule varchar, detail varchar)"
    )
    questions = question_grams(con) if contamination else None
    find_turn_findings(con, family, questions)
    for group in groups:
        con.execute(f"insert into check_found {group}")
    con.execute("drop table turn_findings")
    con.execute("drop table same_content")
    checked_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {TABLE} where model = ?", [model])
        con.execute(f"delete from {RUNS} where model = ?", [model])
        con.execute(
            f"insert into {RUNS} select ?, ?, (select count(*) from recs), ?, ?, ?, ?, ?, "
            f"({ids_digest_sql('select * from recs', 'record_index', 'id')})",
            [
                model,
                family,
                evaluated,
                [name for name in RULES if name not in evaluated],
                [r.name for r in RULES.values() if r.model_level],
                json.dumps(skipped),
                checked_at,
            ],
        )
        con.execute(
            f"insert into {TABLE} select ?, record_id, record_index, rule, {severity} end, detail, ?, ?, ? "
            "from check_found order by rule, record_index",
            [model, family, FAILURE_PHRASES_VERSION, checked_at],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _summaries(con: duckdb.DuckDBPyConnection, model: str, total: int) -> list[RuleSummary]:
    found = {
        rule: (n, examples)
        for rule, n, examples in con.execute(
            f"select rule, count(*), list(coalesce(record_id, detail) order by record_index)[1:{EXAMPLES}] "
            f"from {TABLE} where model = ? group by rule",
            [model],
        ).fetchall()
    }
    return [
        RuleSummary(
            rule.name,
            rule.severity,
            found.get(rule.name, (0, []))[0],
            found.get(rule.name, (0, []))[0] / total if total else 0.0,
            found.get(rule.name, (0, []))[1],
        )
        for rule in RULES.values()
    ]


def summary_lines(result: CheckResult) -> list[str]:
    """The terminal summary: one line per rule, then the rule groups skipped and why."""
    lines = [f"{result.model}: {result.records:,} records checked for {result.family} in {result.seconds:.1f}s"]
    for r in result.rules:
        examples = f"  e.g. {', '.join(r.examples)}" if r.examples else ""
        lines.append(f"  {r.rule:<24} {r.severity:<8} {r.records:>9,}  {r.share:7.2%}{examples}")
    for group, why in result.skipped.items():
        lines.append(f"  skipped {group} rules: {why}")
    return lines


def _write_report(warehouse: Warehouse, result: CheckResult) -> Path:
    """check_<model>.md and .html in <warehouse>/report/, beside the stats report."""
    folder = warehouse.root / "report"
    folder.mkdir(exist_ok=True)
    rows = [
        (r.rule, r.severity, f"{r.records:,}", f"{r.share:.2%}", ", ".join(r.examples), RULES[r.rule].what)
        for r in result.rules
    ]
    header = ("rule", "severity", "records", "share", "examples", "what it finds")
    title = f"svit check: {result.model} ({result.family})"
    notes = [f"skipped {group} rules: {why}" for group, why in result.skipped.items()]
    markdown = "\n".join(
        [f"# {title}", "", f"{result.records:,} records; all findings in the table `{TABLE}`.", ""]
        + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        + ([""] + [f"- {n}" for n in notes] if notes else [])
    )
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    page = (
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>{result.records:,} records; all findings in the table <code>{TABLE}</code>.</p>"
        "<table><tr>"
        + "".join(f"<th>{h}</th>" for h in header)
        + f"</tr>{body}</table>"
        + "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    )
    stem = folder / f"check_{result.model}"
    atomic_write_text(stem.with_suffix(".md"), markdown + "\n")
    atomic_write_text(stem.with_suffix(".html"), page + "\n")
    return stem.with_suffix(".md")
