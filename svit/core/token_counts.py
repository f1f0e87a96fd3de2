"""Which counts of `svit tokens` a reader of record_tokens means: a model may have been counted
for several families and tokenizers, and a recipe's `max_tokens` or an export's `--lengths`
must name one when the choice is not obvious. Counts describe a model as it was when counted:
`stale_count_sql` finds the records they no longer match (by position and id)."""

from __future__ import annotations

import duckdb

from svit.core.errors import SvitError
from svit.core.models_db import RECORD_TOKENS


def counted_by(
    con: duckdb.DuckDBPyConnection, model: str, family: str | None, tokenizer: str | None, table: str = RECORD_TOKENS
) -> tuple[str, str, str]:
    """(family, tokenizer, fingerprint) of the one kind of counts of `model` that `family` and
    `tokenizer` (None: any) select; SvitError when there is none, or several."""
    rows = con.execute(
        f"select distinct family, tokenizer, tokenizer_fingerprint from {table} where model = ? "
        "and (? is null or family = ?) and (? is null or tokenizer = ?) order by all",
        [model, family, family, tokenizer, tokenizer],
    ).fetchall()
    if not rows:
        which = (f" for {family}" if family else "") + (f" with tokenizer {tokenizer}" if tokenizer else "")
        raise SvitError(
            f"no token counts of {model}{which}: run `svit tokens --family {family or 'F'} --model {model}` first"
        )
    if len(rows) > 1:
        listed = "; ".join(f"family {f}, tokenizer {t}" for f, t, _ in rows)
        raise SvitError(f"{model} has token counts of several kinds ({listed}): name the family and tokenizer")
    return rows[0]


def stale_count_sql(
    records: str, key: str, model: str, fingerprint: str, family: str, table: str = RECORD_TOKENS
) -> str:
    """How many of `records` (a query with `key` and `id`) have no count of this kind at their
    position with their id: counted before the model changed, or never."""
    return (
        f"select count(*) from ({records}) as s anti join (select record, id from {table} "
        f"where model = '{model.replace(chr(39), chr(39) * 2)}' and family = '{family}' "
        f"and tokenizer_fingerprint = '{fingerprint}') as t on t.record = s.{key} and t.id = s.id::varchar"
    )
