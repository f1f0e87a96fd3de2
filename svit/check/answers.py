"""The rules that read every word of every answer, in one pass: failure phrases, truncated and
repetitive answers, near-duplicates (svit/check/near.py), and with benchmark lists the text
contamination rule (svit/check/benchmarks.py).

The answers stream out of DuckDB in batches of records; Polars lower-cases, cuts and hashes
their words and numpy makes the n-grams, two batches at a time in threads. As SQL over lists
(lambdas per answer) these rules were most of `svit check`'s time at full scale
(bench/README.md, "svit check").
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import duckdb
import numpy as np
import polars as pl

from svit.check import near
from svit.check.benchmarks import text_findings, text_hits
from svit.check.rules import (
    FAILURE_PHRASES,
    NEAR_BINS,
    NEAR_SHINGLE,
    REPEAT_MIN,
    REPEAT_N,
    REPEAT_SHARE,
    TRUNCATED_MIN_WORDS,
)
from svit.core.parallel import ordered_map

BATCH_RECORDS = 50_000
THREADS = 2  # the machine's two cores; Polars and numpy release the GIL
# White space: tab, line feed, form feed, carriage return and space (what a regular expression's
# \s is in ASCII, less the vertical tab), runs of it counting as one cut.
SPACES = ["\t", "\n", "\x0c", "\r"]
# The characters an answer cut off mid-sentence ends in.
MID_SENTENCE = [*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,"]
FINDINGS_SCHEMA = {"row": pl.Int64, "rule": pl.String, "detail": pl.String}


def answer_words(answers: pl.DataFrame) -> pl.DataFrame:
    """(answer, hash) of every word of the lower-cased `answers` (one row per answer, its text in
    `lower`), in order: cut at white space, empty words left out."""
    return (
        answers.select("answer", pl.col("lower").str.replace_many(SPACES, [" "] * len(SPACES)).str.split(" "))
        .explode("lower")
        .filter(pl.col("lower") != "")
        .select("answer", pl.col("lower").hash(seed=0).alias("hash"))
    )


def repeated_grams(owners: np.ndarray, gram: np.ndarray, n_answers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per answer: (its word REPEAT_N-grams, how many of them repeat one before it); `gram`:
    near.word_grams(hashes, REPEAT_N), an n-gram being the hash of its words' hashes (two sharing
    a 64-bit hash could only add a repeat)."""
    k = REPEAT_N
    grams = np.zeros(n_answers, np.int64)
    if len(gram) == 0:
        return grams, grams.copy()
    valid = near.in_one_text(owners, k)
    counted = (
        pl.DataFrame({"answer": owners[: len(owners) - k + 1][valid], "gram": gram[valid]})
        .group_by("answer")
        .agg(pl.len().alias("grams"), pl.col("gram").n_unique().alias("distinct"))
    )
    at = counted["answer"].to_numpy()
    grams[at] = counted["grams"].to_numpy()
    repeats = np.zeros(n_answers, np.int64)
    repeats[at] = grams[at] - counted["distinct"].to_numpy()
    return grams, repeats


def _first_per_record(answers: pl.DataFrame, test: pl.Expr, rule: str, detail: pl.Expr) -> pl.DataFrame:
    """The first answer of each record for which `test` holds, as a finding of `rule`."""
    return (
        answers.filter(test)
        .group_by("row")
        .agg(pl.all().sort_by("ordinal").first())
        .select("row", pl.lit(rule).alias("rule"), detail.alias("detail"))
    )


def batch_findings(texts: pl.Series) -> tuple[pl.DataFrame, np.ndarray]:
    """For a batch of records (`texts`: each record's answers, a list of strings): the findings of
    the failure, truncation and repetition rules (row in the batch, rule, detail), and the
    records' near-duplicate signatures."""
    value = pl.col("value")
    answers = (
        texts.alias("value")
        .to_frame()
        .with_row_index("row")
        .explode("value")
        .with_row_index("answer")
        .with_columns(
            (pl.int_range(pl.len()).over("row") + 1).alias("ordinal"),
            value.str.to_lowercase().alias("lower"),
        )
    )
    n = len(texts)
    words = answer_words(answers)
    owners, hashes = words["answer"].to_numpy(), words["hash"].to_numpy()
    rows = answers["row"].to_numpy()
    # The repetition rule's 4-grams are one step from the near-duplicates' 5-word shingles.
    gram = near.word_grams(hashes, REPEAT_N) if len(hashes) >= REPEAT_N else np.zeros(0, np.uint64)
    shorter = gram if REPEAT_N == NEAR_SHINGLE - 1 else None
    signatures = near.signatures(rows[owners], hashes, n, shorter)
    grams, repeats = repeated_grams(owners, gram, len(answers))
    answers = answers.with_columns(pl.Series("grams", grams), pl.Series("repeats", repeats))
    trimmed = value.str.strip_chars(" ")
    prefix = pl.lit("answer ") + pl.col("ordinal").cast(pl.String)
    findings = pl.concat(
        [
            _first_per_record(
                answers,
                pl.col("lower").str.contains_any([p.lower() for p in FAILURE_PHRASES]),
                "failure_answer",
                prefix + pl.lit(': "') + value.str.head(60) + pl.lit('"'),
            ),
            _first_per_record(
                answers,
                value.str.strip_chars_end(" ").str.slice(-1).is_in(MID_SENTENCE)
                & (trimmed.str.count_matches(" ", literal=True) + 1 >= TRUNCATED_MIN_WORDS),
                "truncated_answer",
                prefix + pl.lit(" ends mid-sentence"),
            ),
            _first_per_record(
                answers,
                (pl.col("repeats") >= REPEAT_MIN) & (pl.col("repeats") >= REPEAT_SHARE * pl.col("grams")),
                "repetitive_answer",
                prefix + pl.lit(f" repeats its word {REPEAT_N}-grams"),
            ),
        ]
    ).cast(FINDINGS_SCHEMA)
    return findings, signatures


def _batch(batch, questions: pl.DataFrame | None, wanted: np.ndarray) -> tuple[np.ndarray, pl.DataFrame, np.ndarray]:
    """(record indexes, findings by row, signatures) of a batch of records; `wanted`: the
    benchmark questions' grams, sorted and distinct."""
    findings, signatures = batch_findings(pl.from_arrow(batch.column("answers")))
    index = batch.column("record_index").to_numpy()
    if questions is not None:
        # A record's grams are all in its batch: the batch's findings are final.
        hits = text_hits(pl.from_arrow(batch.column("turns")), wanted)
        findings = pl.concat([findings, text_findings(hits, questions).cast(FINDINGS_SCHEMA)])
    return index, findings, signatures


def find_answer_findings(
    con: duckdb.DuckDBPyConnection,
    answers: str,
    turns: str,
    questions: pl.DataFrame | None = None,
    table: str = "answer_findings",
) -> None:
    """Temp table `table` (record_index, rule, detail) of the rules of this module over the view
    `recs`; `answers`: SQL of each record's answers as a list of strings; with the benchmark
    questions' grams (benchmarks.question_grams), also the text contamination rule over `turns`
    (SQL of all of a record's turns as one string)."""
    columns = f"record_index, {answers} as answers" + (f", {turns} as turns" if questions is not None else "")
    reader = con.sql(f"select {columns} from recs").to_arrow_reader(BATCH_RECORDS)
    wanted = np.unique(questions["gram"].to_numpy()) if questions is not None else np.zeros(0, np.uint64)
    with ThreadPoolExecutor(THREADS) as pool:
        # Two batches are worked on at once while DuckDB reads the next.
        done = list(ordered_map(pool, partial(_batch, questions=questions, wanted=wanted), reader, THREADS))
        findings = [
            found.with_columns(pl.Series("record_index", index).gather(found["row"])) for index, found, _ in done
        ]
        index = np.concatenate([i for i, _, _ in done] or [np.zeros(0, np.int64)])
        signatures = np.concatenate([s for _, _, s in done] or [np.zeros((0, NEAR_BINS), np.uint16)])
        del done
        near_found = near.near_duplicates(index, signatures, pool)
    parts = [f.select("record_index", "rule", "detail") for f in findings]
    parts.append(near_found.select("record_index", pl.lit("near_duplicate_answer").alias("rule"), "detail"))
    result = pl.concat(parts).to_arrow()
    con.register("answer_found", result)
    try:
        con.execute(f"create or replace temp table {table} as select * from answer_found")
    finally:
        con.unregister("answer_found")
