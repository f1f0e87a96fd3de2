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
import numpy as np
import polars as pl

from svit.check.words import grams_in_texts, words_of
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
# Benchmark grams are looked up in a bit set of this many bits first (the top bits of a gram).
LOOKUP_BITS = 22


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
    """CTEs over `recs` and bench_images ending in contaminated (id, record_index, rule, detail):
    records whose image a benchmark evaluates on. (The text rule reads every word of every
    record: it is in the pass of svit/check/turns.py, with `question_grams` and `text_hits`.)"""
    vg_id = "try_cast(nullif(regexp_extract(image, '^vg/.*/([0-9]+)\\.jpg$', 1), '') as bigint)"
    coco_id = f"try_cast(nullif(regexp_extract(lower(image), '{COCO_NAME}', 1), '') as bigint)"
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
    contaminated as (
        select any_value(id) as id, record_index, 'benchmark_image' as rule,
            'image of ' || string_agg(distinct benchmark || ' (' || what || ')', ', ') as detail
        from bench_image_hits
        group by record_index
    )"""


def question_grams(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """(benchmark, question, gram, grams) of the loaded benchmark questions of BENCH_NGRAM words
    or more: each distinct gram, and how many distinct grams the question has; None when no
    question is that long."""
    questions = con.sql("select distinct benchmark, question from bench_questions order by all").pl()
    owners, grams = grams_in_texts(*words_of(questions["question"]), BENCH_NGRAM)
    if not len(grams):
        return None
    found = pl.DataFrame({"q": owners, "gram": grams}).unique()
    found = found.with_columns(pl.len().over("q").alias("grams"))
    return found.join(questions.with_row_index("q"), on="q").select("benchmark", "question", "gram", "grams")


def text_hits(owners: np.ndarray, grams: np.ndarray, wanted: np.ndarray) -> pl.DataFrame:
    """(row, gram) of each record and each distinct benchmark gram it holds; `owners`, `grams`:
    the records' word BENCH_NGRAM-grams and whose they are; `wanted`: the questions' grams,
    sorted and distinct."""
    # Nearly no gram of a record is a benchmark's: a bit per top-bits value rules most out at
    # the cost of one load each, before the exact search.
    shift = np.uint64(64 - LOOKUP_BITS)
    bits = np.zeros(1 << LOOKUP_BITS, bool)
    bits[wanted >> shift] = True
    maybe = np.flatnonzero(bits[grams >> shift])
    grams, owners = grams[maybe], owners[maybe]
    at = np.minimum(np.searchsorted(wanted, grams), len(wanted) - 1)
    held = wanted[at] == grams
    return pl.DataFrame({"row": owners[held].astype(np.int64), "gram": grams[held]}).unique()


def text_findings(hits: pl.DataFrame, questions: pl.DataFrame) -> pl.DataFrame:
    """(row, rule, detail) of the records whose text holds BENCH_TEXT_SHARE or more of the grams
    of a benchmark question (`hits`: row, gram), naming the question they hold most of."""
    shares = (
        hits.join(questions, on="gram")
        .group_by("row", "benchmark", "question")
        .agg((pl.len() / pl.col("grams").first()).alias("share"))
        .filter(pl.col("share") >= BENCH_TEXT_SHARE)
    )
    best = shares.sort("share", "benchmark", "question", descending=[True, False, False]).unique("row", keep="first")
    return best.select(
        "row",
        pl.lit("benchmark_text").alias("rule"),
        (
            pl.lit("holds ")
            + (pl.col("share") * 100).round(0, mode="half_away_from_zero").cast(pl.Int64).cast(pl.String)
            + pl.lit("% of a question of ")
            + pl.col("benchmark")
            + pl.lit(': "')
            + pl.col("question").str.head(60)
            + pl.lit('"')
        ).alias("detail"),
    )
