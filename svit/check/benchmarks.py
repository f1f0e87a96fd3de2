"""Benchmark lists for `svit check --benchmarks DIR`: which images and questions a benchmark
evaluates on, so that a mix can be checked for training on them (LLaMA2-Accessory #111,
PSALM #16: benchmark images such as POPE's and RefCOCO's val/test inside COCO train).

DIR holds one file per benchmark, named after it (`pope.csv`, `refcoco_testA.json`, ...):
CSV with a header, a JSON array of objects, or JSON lines. Each row names an image, a question,
or both, with any of these columns (docs/check.md, "Contamination"):

  coco_id    a COCO image id;
  image      an image file name or path: a COCO name (`COCO_val2014_000000123456.jpg`,
             `000000123456.jpg`) gives its COCO id, any other is matched by file name;
  vg_id      a Visual Genome image id;
  question   a benchmark question (the text rule).

No list is shipped: the benchmarks' own licences govern them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from svit.check.rules import text_words
from svit.core.errors import SvitError, first_line
from svit.core.sql import sql_ident, sql_str

COLUMNS = ("coco_id", "image", "vg_id", "question")
# The text rule: a record holds a benchmark question when at least BENCH_TEXT_SHARE of the
# question's word BENCH_NGRAM-grams occur in the record's turns. Questions of fewer words are
# not compared: short questions ("What color is the bus?") recur everywhere by themselves.
BENCH_NGRAM = 8
BENCH_TEXT_SHARE = 0.5
SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json"}
# A COCO file name ends in the image id, 12 digits with leading zeros.
COCO_NAME = r"(?:^|[/_])0*([0-9]{1,12})\.(?:jpg|jpeg|png)$"


def load_benchmarks(con: duckdb.DuckDBPyConnection, folder: Path) -> list[str]:
    """Read every benchmark file in `folder` into the temp tables bench_images (benchmark,
    coco_id, vg_id, file_name) and bench_questions (benchmark, question); the benchmarks' names."""
    if not folder.is_dir():
        raise SvitError(f"--benchmarks {folder}: not a folder (one CSV or JSON file per benchmark)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise SvitError(f"--benchmarks {folder}: no .csv, .json or .jsonl file in it (one per benchmark)")
    con.execute(
        "create or replace temp table bench_images (benchmark varchar, coco_id bigint, vg_id bigint, file_name varchar)"
    )
    con.execute("create or replace temp table bench_questions (benchmark varchar, question varchar)")
    for path in files:
        _load(con, path)
    return [p.stem for p in files]


def _load(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    name = sql_str(path.stem)
    reader = (
        f"read_csv({sql_str(path)}, header = true, all_varchar = true)"
        if SUFFIXES[path.suffix.lower()] == "csv"
        else f"read_json({sql_str(path)}, format = 'auto', records = true)"
    )
    try:
        columns = [r[0] for r in con.execute(f"select column_name from (describe select * from {reader})").fetchall()]
    except duckdb.Error as exc:
        raise SvitError(f"--benchmarks {path}: cannot be read as a table ({first_line(exc)})") from exc
    known = [c for c in COLUMNS if c in columns]
    if not known:
        raise SvitError(
            f"--benchmarks {path}: none of the columns {', '.join(COLUMNS)}; found {', '.join(columns) or 'none'}"
        )

    def col(name: str, cast: str = "varchar") -> str:
        return f"try_cast({sql_ident(name)} as {cast})" if name in known else f"null::{cast}"

    file_name = f"nullif(regexp_extract({col('image')}, '[^/]*$'), '')"
    coco_from_name = f"try_cast(nullif(regexp_extract(lower({col('image')}), '{COCO_NAME}', 1), '') as bigint)"
    try:
        bad = con.execute(
            f"select count(*) from {reader} where "
            + " or ".join(f"({col(c)} is not null and {col(c, 'bigint')} is null)" for c in ("coco_id", "vg_id"))
        ).fetchall()[0][0]
        if bad:
            raise SvitError(f"--benchmarks {path}: {bad:,} rows whose coco_id or vg_id is not a whole number")
        con.execute(
            f"insert into bench_images select {name}, coalesce({col('coco_id', 'bigint')}, {coco_from_name}), "
            f"{col('vg_id', 'bigint')}, case when {coco_from_name} is null then {file_name} end from {reader} "
            f"where coalesce({col('coco_id')}, {col('vg_id')}, {col('image')}) is not null"
        )
        con.execute(
            f"insert into bench_questions select {name}, {col('question')} from {reader} "
            f"where nullif(trim({col('question')}), '') is not null"
        )
    except duckdb.Error as exc:
        raise SvitError(f"--benchmarks {path}: {first_line(exc)}") from exc


def contamination_ctes() -> str:
    """CTEs over `recs` and the bench_* tables ending in contaminated (id, record_index, rule,
    detail): records whose image a benchmark evaluates on, and records whose text holds most of
    a benchmark question."""
    vg_id = "try_cast(nullif(regexp_extract(image, '^vg/.*/([0-9]+)\\.jpg$', 1), '') as bigint)"
    coco_id = f"try_cast(nullif(regexp_extract(lower(image), '{COCO_NAME}', 1), '') as bigint)"
    record_words = text_words("array_to_string(list_transform(conversations, lambda t: t.value), ' ')")
    question_words = text_words("question")
    n = BENCH_NGRAM
    return f"""
    bench_record_images as (
        select r.id, r.record_index, r.vg_id, regexp_extract(r.image, '[^/]*$') as file_name,
            case when r.image like 'coco/%' then {coco_id} else i.coco_id end as coco_id
        from (select *, {vg_id} as vg_id from recs where image is not null) r
        left join stg_svit__images i on i.image_id = r.vg_id
    ),
    bench_image_hits as (
        select r.id, r.record_index, b.benchmark, 'COCO id ' || r.coco_id as what
        from bench_record_images r inner join bench_images b on b.coco_id = r.coco_id
        union all
        select r.id, r.record_index, b.benchmark, 'Visual Genome id ' || r.vg_id
        from bench_record_images r inner join bench_images b on b.vg_id = r.vg_id
        union all
        select r.id, r.record_index, b.benchmark, 'file ' || r.file_name
        from bench_record_images r inner join bench_images b on b.file_name = r.file_name
    ),
    bench_question_grams as (
        select benchmark, question, count(*) over (partition by benchmark, question) as grams, gram
        from (
            select distinct benchmark, question, hash(array_to_string(w[i:i + {n - 1}], ' ')) as gram
            from (select benchmark, question, {question_words} as w from bench_questions),
                unnest(range(1, len(w) - {n - 2})) as s(i)
            where len(w) >= {n}
        )
    ),
    bench_record_grams as (
        select distinct record_index, gram
        from (
            select record_index, hash(array_to_string(w[i:i + {n - 1}], ' ')) as gram
            from (select record_index, {record_words} as w from recs), unnest(range(1, len(w) - {n - 2})) as s(i)
        )
        where gram in (select gram from bench_question_grams)
    ),
    bench_text_hits as (
        select g.record_index, q.benchmark, q.question, count(*) / any_value(q.grams) as share
        from bench_record_grams g inner join bench_question_grams q using (gram)
        group by all
        having share >= {BENCH_TEXT_SHARE}
    ),
    contaminated as (
        select any_value(id) as id, record_index, 'benchmark_image' as rule,
            'image of ' || string_agg(distinct benchmark || ' (' || what || ')', ', ') as detail
        from bench_image_hits
        group by record_index
        union all
        select recs.id, h.record_index, 'benchmark_text',
            'holds ' || round(max(h.share) * 100)::integer || '% of a question of ' || arg_max(h.benchmark, h.share)
            || ': "' || left(arg_max(h.question, h.share), 60) || '"'
        from bench_text_hits h inner join recs using (record_index)
        group by recs.id, h.record_index
    )"""
