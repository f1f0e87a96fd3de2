"""`svit export --lengths F[:TOKENIZER]`: each record's length in tokens, as `svit tokens`
counted it for family F, written into the formats whose trainers read one:

- `internvl`: `length`, the total (text and image tokens), which InternVL's
  `--group_by_length` takes instead of tokenising every record again (and instead of its
  own estimate, the largest tile budget, even for text-only records);
- `llava`, `jsonl`: `length`, the total with LLaVA's `modality_lengths` sign: positive for a
  record with an image, negative for a text-only one, so a length-grouping sampler of the
  LLaVA family tells the two apart as LLaVA's own does.

A record whose total is unknown (its image size is unknown) is written without `length`, and
the export says how many. Counts that no longer match the model (rebuilt since) are refused.
"""

from __future__ import annotations

import duckdb
import polars as pl

from svit.core.errors import SvitError
from svit.core.models_db import MODELS_CATALOG, RECORD_TOKENS
from svit.core.token_counts import counted_by, stale_count_sql
from svit.export.records import Source

TABLE = f"{MODELS_CATALOG}.main.{RECORD_TOKENS}"


def token_lengths(con: duckdb.DuckDBPyConnection, source: Source, spec: str) -> pl.DataFrame:
    """ord -> length for the records of `source`, from the counts `spec` (F[:TOKENIZER]) names;
    SvitError in one line when they cannot apply."""
    family, _, tokenizer = spec.partition(":")
    present = con.execute(
        "select 1 from duckdb_tables() where database_name = ? and table_name = ?", [MODELS_CATALOG, RECORD_TOKENS]
    ).fetchall()
    if not present:
        raise SvitError(
            f"--lengths needs token counts: run `svit tokens --family {family} --model {source.name}` first"
        )
    family, tokenizer, fingerprint = counted_by(con, source.name, family, tokenizer or None, TABLE)
    [(stale,)] = con.execute(
        stale_count_sql(source.sorted_sql, "ord", source.name, fingerprint, family, TABLE)
    ).fetchall()
    if stale:
        raise SvitError(
            f"the token counts of {source.name} ({family}, {tokenizer}) miss {stale:,} of its records as it holds "
            f"them now: run `svit tokens --family {family} --model {source.name}` again"
        )
    return pl.from_arrow(
        con.sql(
            f"select record as ord, total_tokens as length from {TABLE} where model = ? and family = ? "
            "and tokenizer_fingerprint = ?",
            params=[source.name, family, fingerprint],
        ).to_arrow_table()
    )


def length_member(key_text: str, signed: bool, after: str = "") -> pl.Expr:
    """`key_text`, the record's length (negative for a text-only record when `signed`) and
    `after`; nothing where the length is unknown."""
    length = pl.col("length")
    if signed:
        length = pl.when(pl.col("has_image")).then(length).otherwise(-length)
    return (
        pl.when(length.is_not_null())
        .then(pl.concat_str(pl.lit(key_text), length.cast(pl.String), pl.lit(after)))
        .otherwise(pl.lit(""))
    )
