"""The rules that read the records' turns, in one pass over the model: structure (empty turns,
roles, the last turn, placeholders, `<image>` in answers), failure phrases, truncated and
repetitive answers, near-duplicates (svit/check/near.py) and, with benchmark lists, the text
contamination rule (svit/check/benchmarks.py).

The records stream out of DuckDB in batches; Polars lays their turns out as rows and cuts and
hashes the words once (svit/check/words.py), numpy makes the n-grams, two batches at a time in
threads. As SQL over lists (lambdas per turn) these rules were most of `svit check`'s time at
full scale (bench/README.md, "svit check").
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from svit.check import near
from svit.check.benchmarks import BENCH_NGRAM, text_findings, text_hits
from svit.check.rules import (
    FAILURE_PHRASES,
    NEAR_BINS,
    NEAR_SHINGLE,
    REPEAT_MIN,
    REPEAT_N,
    REPEAT_SHARE,
    TRUNCATED_MIN_WORDS,
)
from svit.check.words import CUT_TABLE, cut, doubled_grams, in_one_text, word_grams, word_hashes
from svit.core.parallel import ordered_map

BATCH_RECORDS = 25_000
THREADS = 2  # the machine's two cores; Polars and numpy release the GIL
# What the pass reads of each record of the view `recs`: its turns as a list of {from, value},
# and a hash of its media and turns, which the exact-duplicate rule compares.
COLUMNS = "record_index, n_media, conversations, hash(media_key, conversations) as content"
# The characters an answer cut off mid-sentence ends in.
MID_SENTENCE = [*"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,"]
# Placeholders a question may hold: one per image, or per video (LLaVA-NeXT marks videos with
# <image>, Qwen and LLaMA-Factory with <video>).
PLACEHOLDERS = ("<image>", "<video>")
# The failure phrases as words.cut makes them, to be found in answers cut the same way: case and
# punctuation do not matter.
PHRASES_CUT = [p.encode().translate(CUT_TABLE).decode() for p in FAILURE_PHRASES]
FINDINGS_SCHEMA = {"row": pl.Int64, "rule": pl.String, "detail": pl.String}
RECORDS_SCHEMA = {"record_index": pl.Int64, "content": pl.UInt64}


def placeholders_allowed(family: str) -> pl.Expr:
    """Whether a record's `tokens` placeholders in its questions fit its `n_media` media."""
    tokens, media = pl.col("tokens"), pl.col("n_media")
    if family in ("qwen2-vl", "qwen2.5-vl"):
        # LLaMA-Factory's Qwen2-VL plugin and Qwen's own data: exactly one token per medium.
        return tokens == media
    # LLaVA puts the image first when no question names it, InternVL adds the token itself
    # when missing: zero or one token per medium; more tokens than media are refused.
    return tokens <= media


def positions_in_groups(groups: np.ndarray) -> np.ndarray:
    """For items in contiguous groups (`groups`: each item's group): each item's position in its
    group, from 0."""
    if not len(groups):
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))


def record_turns(conversations: pa.Array, n_media: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame, pa.Array]:
    """(records, turns, values) of a batch: each record's row, number of turns and of media; its
    turns as rows (row, turn from 0, from, value) in order; the turns' values as Arrow strings."""
    n_turns = pc.list_value_length(conversations).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.repeat(np.arange(len(conversations), dtype=np.int64), n_turns)
    flat = conversations.flatten()  # a null list has no turns; a null turn has a null role and value
    values = pc.struct_field(flat, "value")
    turns = pl.DataFrame(
        {
            "row": rows,
            "turn": positions_in_groups(rows),
            "from": pl.from_arrow(pc.struct_field(flat, "from")),
            "value": pl.from_arrow(values),
        },
    )
    records = pl.DataFrame(
        {"row": np.arange(len(conversations), dtype=np.int64), "n_turns": n_turns, "n_media": n_media}
    )
    return records, turns, values


def _first(frame: pl.DataFrame, test: pl.Expr, rule: str, detail: pl.Expr) -> pl.DataFrame:
    """The first row of each record (frames in record order) for which `test` holds, as a finding
    of `rule`."""
    return (
        frame.filter(test)
        .unique("row", keep="first", maintain_order=True)
        .select("row", pl.lit(rule).alias("rule"), detail.alias("detail"))
    )


def structure_findings(records: pl.DataFrame, turns: pl.DataFrame, family: str) -> pl.DataFrame:
    """Findings of the structure rules (empty turn, unanswered last turn, roles not alternating,
    image placeholders) for a batch's records and turns."""
    value, role, turn = pl.col("value"), pl.col("from"), pl.col("turn").cast(pl.String)
    last = np.cumsum(records.filter(pl.col("n_turns") > 0)["n_turns"].to_numpy()) - 1
    counted = (
        turns.filter(role == "human")
        .group_by("row")
        .agg(pl.sum_horizontal(value.str.count_matches(p, literal=True) for p in PLACEHOLDERS).sum().alias("tokens"))
    )
    media = records.join(counted, on="row", how="left").with_columns(pl.col("tokens").fill_null(0))
    media_word = pl.when(pl.col("n_media") == 1).then(pl.lit(" image")).otherwise(pl.lit(" images"))
    return pl.concat(
        [
            # Empty: no text, or only spaces (a tab or a line feed is text, as the rule always read).
            _first(turns, value.is_null() | ~value.str.contains("[^ ]"), "empty_turn", "turn " + turn + " is empty"),
            records.filter(pl.col("n_turns") == 0).select(
                "row", rule=pl.lit("unanswered_last_turn"), detail=pl.lit("no turns")
            ),
            turns[last]
            .filter(role != "gpt")
            .select("row", rule=pl.lit("unanswered_last_turn"), detail="the last turn is from " + role),
            _first(
                turns,
                role != pl.when(pl.col("turn") % 2 == 0).then(pl.lit("human")).otherwise(pl.lit("gpt")),
                "roles_not_alternating",
                "turn " + turn + " is from " + role,
            ),
            media.filter(~placeholders_allowed(family)).select(
                "row",
                rule=pl.lit("image_placeholders"),
                detail=pl.col("tokens").cast(pl.String)
                + " <image> in the questions, "
                + pl.col("n_media").cast(pl.String)
                + media_word
                + f" ({family})",
            ),
        ]
    )


def repeated_grams(owners: np.ndarray, gram: np.ndarray, n_answers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per answer: (its word REPEAT_N-grams, how many of them repeat one before it); `owners`,
    `gram`: each REPEAT_N-gram of one answer and its answer, an n-gram being the hash of its
    words' hashes (two sharing a 64-bit hash could only add a repeat)."""
    grams = np.zeros(n_answers, np.int64)
    repeats = np.zeros(n_answers, np.int64)
    counted = (
        pl.DataFrame({"answer": owners, "gram": gram})
        .group_by("answer")
        .agg(pl.len().alias("grams"), pl.col("gram").n_unique().alias("distinct"))
    )
    at = counted["answer"].to_numpy()
    grams[at] = counted["grams"].to_numpy()
    repeats[at] = grams[at] - counted["distinct"].to_numpy()
    return grams, repeats


def answer_findings(answers: pl.DataFrame, grams: np.ndarray, repeats: np.ndarray) -> pl.DataFrame:
    """Findings of the answer rules (`<image>` in an answer, failure phrases, truncated and
    repetitive answers); `answers`: (row, ordinal from 1, value, cut: the value as words.cut
    makes it) in order, with each answer's REPEAT_N-grams and repeated ones."""
    value = pl.col("value")
    answers = answers.with_columns(pl.Series("grams", grams), pl.Series("repeats", repeats))
    prefix = "answer " + pl.col("ordinal").cast(pl.String)
    return pl.concat(
        [
            _first(answers, value.str.contains("<image>", literal=True), "image_in_answer", prefix + " holds <image>"),
            _first(
                answers,
                pl.col("cut").str.contains_any(PHRASES_CUT),
                "failure_answer",
                prefix + ': "' + value.str.head(60) + '"',
            ),
            _first(
                # Words are counted only in the few answers that end mid-sentence.
                answers.filter(value.str.strip_chars_end(" ").str.slice(-1).is_in(MID_SENTENCE)),
                value.str.strip_chars(" ").str.count_matches(" ", literal=True) + 1 >= TRUNCATED_MIN_WORDS,
                "truncated_answer",
                prefix + " ends mid-sentence",
            ),
            _first(
                answers,
                (pl.col("repeats") >= REPEAT_MIN) & (pl.col("repeats") >= REPEAT_SHARE * pl.col("grams")),
                "repetitive_answer",
                prefix + f" repeats its word {REPEAT_N}-grams",
            ),
        ]
    )


def batch_findings(
    conversations: pa.Array,
    n_media: np.ndarray,
    family: str = "llava-1.5",
    questions: pl.DataFrame | None = None,
    wanted: np.ndarray | None = None,
) -> tuple[pl.DataFrame, np.ndarray]:
    """For a batch of records (`conversations`: each record's turns, a list of {from, value};
    `n_media`: its number of images and videos): the findings of the rules of this module (row
    in the batch, rule, detail), and the records' near-duplicate signatures. With the benchmark
    questions' grams (`questions`, and `wanted`: their grams sorted and distinct) also the text
    rule, over all of a record's turns."""
    records, turns, values = record_turns(conversations, n_media)
    is_answer = (turns["from"] == "gpt").fill_null(False).to_numpy()
    cuts = cut(values)
    answers = turns.select("row", "value", cut=cuts).filter(pl.Series(is_answer))
    answer_rows = answers["row"].to_numpy()
    answers = answers.with_columns(pl.Series("ordinal", positions_in_groups(answer_rows) + 1))
    found = [structure_findings(records, turns, family)]
    if questions is None:
        owners, hashes = word_hashes(answers["cut"])  # owner: the answer
    else:
        # One cut of every turn: the text rule reads them all, the answer rules the answers'.
        owners, hashes = word_hashes(cuts)  # owner: the turn
        found.append(text_findings(record_hits(turns["row"].to_numpy()[owners], hashes, wanted), questions))
        mine = is_answer[owners]
        owners, hashes = (np.cumsum(is_answer) - 1)[owners[mine]], hashes[mine]
    # Repetition counts the 4-grams of one answer; a near-duplicate shingle is 5 words of a
    # record's answers in a row, one step on from the 4-grams.
    gram = word_grams(hashes, REPEAT_N)
    valid = in_one_text(owners, REPEAT_N)
    found.append(answer_findings(answers, *repeated_grams(owners[: len(gram)][valid], gram[valid], len(answers))))
    rows = answer_rows[owners]
    shingles = word_grams(hashes, NEAR_SHINGLE, gram if REPEAT_N == NEAR_SHINGLE - 1 else None)
    valid = in_one_text(rows, NEAR_SHINGLE)
    signatures = near.signatures(
        rows[: len(shingles)][valid], shingles[valid], np.bincount(rows, minlength=len(records))
    )
    return pl.concat([f.cast(FINDINGS_SCHEMA) for f in found]), signatures


def record_hits(rows: np.ndarray, hashes: np.ndarray, wanted: np.ndarray) -> pl.DataFrame:
    """(row, gram) of each record and each benchmark gram its turns hold (`rows`, `hashes`: the
    words of all its turns, in order: a gram may run from one turn into the next)."""
    eights = doubled_grams(word_grams(hashes, BENCH_NGRAM // 2), BENCH_NGRAM // 2)
    valid = in_one_text(rows, BENCH_NGRAM)
    return text_hits(rows[: len(eights)][valid], eights[valid], wanted)


def _batch(
    batch: pa.RecordBatch, family: str, questions: pl.DataFrame | None, wanted: np.ndarray
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """(record index and content hash of each record, findings by record index, signatures) of a
    batch of records; a record's turns and grams are all in its batch, so the batch's findings
    are final."""
    n_media = batch.column("n_media").to_numpy(zero_copy_only=False)
    findings, signatures = batch_findings(batch.column("conversations"), n_media, family, questions, wanted)
    records = pl.from_arrow(batch.select(["record_index", "content"]))
    findings = findings.select(records["record_index"].gather(findings["row"]), "rule", "detail")
    return records, findings, signatures


def find_turn_findings(con: duckdb.DuckDBPyConnection, family: str, questions: pl.DataFrame | None = None) -> None:
    """Temp tables over the view `recs`: turn_findings (record_index, rule, detail) of the rules
    of this module, with the benchmark questions' grams (benchmarks.question_grams) also of the
    text rule; same_content (record_index, first) of the records whose media and turns hash like
    an earlier record's, `first` the earliest (for the exact-duplicate rule to compare)."""
    reader = con.sql(f"select {COLUMNS} from recs").to_arrow_reader(BATCH_RECORDS)
    wanted = np.unique(questions["gram"].to_numpy()) if questions is not None else None
    with ThreadPoolExecutor(THREADS) as pool:
        # Two batches are worked on at once while DuckDB reads the next.
        work = partial(_batch, family=family, questions=questions, wanted=wanted)
        done = list(ordered_map(pool, work, reader, THREADS))
        records = pl.concat([r for r, _, _ in done]) if done else pl.DataFrame(schema=RECORDS_SCHEMA)
        findings = [f for _, f, _ in done]
        signatures = np.concatenate([s for _, _, s in done] or [np.zeros((0, NEAR_BINS), np.uint16)])
        del done
        near_found = near.near_duplicates(records["record_index"].to_numpy(), signatures, pool)
    findings.append(near_found.select("record_index", pl.lit("near_duplicate_answer").alias("rule"), "detail"))
    same = (
        records.filter(pl.col("content").is_duplicated())
        .select("record_index", pl.col("record_index").min().over("content").alias("first"))
        .filter(pl.col("record_index") != pl.col("first"))
    )
    for table, frame in (("turn_findings", pl.concat(findings)), ("same_content", same)):
        con.register("frame", frame.to_arrow())
        try:
            con.execute(f"create or replace temp table {table} as select * from frame")
        finally:
            con.unregister("frame")
