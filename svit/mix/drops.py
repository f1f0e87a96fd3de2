"""A recipe's record drops: `max_tokens: N` (records over a length in a family's tokens, as
`svit tokens` counted them), `exclude: [rule, ...]` (records `svit check` found breaking
those rules) and `images: ok` (records whose image file `svit images` found a problem
with). Each reads what another command computed about a source, so each is checked here
against what that command wrote: the counts, the check or the scan must exist for the source
and must describe the records it holds now (a model rebuilt or a mix replaced since is refused, never
judged by stale rows).

A drop is given at the top of the recipe (every source) or in a source (that source; it
replaces the top one). The records dropped never enter the source's filter or take; the
manifest counts them per reason (models/marts/mixes/mix_user_sources.sql).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from svit.core.errors import SvitError, first_line
from svit.core.models_db import CHECK_RUNS, IMAGE_FILES, RECORD_TOKENS, file_images_sql, ids_digest_sql
from svit.core.sql import sql_ident, sql_str
from svit.core.token_counts import counted_by, stale_count_sql

if TYPE_CHECKING:
    import yaml

DROP_KEYS = ("max_tokens", "exclude", "images")


@dataclass
class MaxTokens:
    limit: int
    family: str | None = None  # None: the only family counted for the source
    tokenizer: str | None = None  # None: the only tokenizer counted for the family
    fingerprint: str | None = None  # resolved against record_tokens


@dataclass
class Drops:
    max_tokens: MaxTokens | None = None
    exclude: list[str] = field(default_factory=list)
    images_ok: bool = False  # `images: ok`: only records whose image `svit images` found without a problem

    def __bool__(self) -> bool:
        return self.max_tokens is not None or bool(self.exclude) or self.images_ok

    def as_var(self) -> dict:
        """What macros/recipes/mix_drops.sql reads."""
        tokens = self.max_tokens
        return {
            "max_tokens": None
            if tokens is None
            else {"limit": tokens.limit, "family": tokens.family, "fingerprint": tokens.fingerprint},
            "exclude": list(self.exclude),
            "images_ok": self.images_ok,
        }

    def as_manifest(self) -> dict:
        tokens = self.max_tokens
        return {
            "max_tokens": None
            if tokens is None
            else {"limit": tokens.limit, "family": tokens.family, "tokenizer": tokens.tokenizer},
            "exclude": list(self.exclude),
            "images": "ok" if self.images_ok else None,
        }


def parse_drops(doc, entry: dict[str, tuple[yaml.Node, yaml.Node]], inherited: Drops | None = None) -> Drops:
    """The drop keys of a recipe mapping (the top, or a source over the top's `inherited`)."""
    drops = Drops(inherited.max_tokens, list(inherited.exclude), inherited.images_ok) if inherited else Drops()
    if "max_tokens" in entry:
        drops.max_tokens = _max_tokens(doc, entry["max_tokens"][1])
    if "exclude" in entry:
        drops.exclude = _exclude(doc, entry["exclude"][1])
    if "images" in entry:
        value = doc.value(entry["images"][1])
        if value not in ("ok", None):
            raise doc.error(
                entry["images"][1], f"images must be ok (only records whose image file is fine), not {value!r}"
            )
        drops.images_ok = value == "ok"
    return drops


def _max_tokens(doc, node) -> MaxTokens | None:
    value = doc.value(node)
    usage = "max_tokens must be a whole number of tokens >= 1, or {limit: N, family: F, tokenizer: T}"
    if value is None:  # `max_tokens:` (null) in a source: this source keeps every length
        return None
    if isinstance(value, dict):
        unknown = set(value) - {"limit", "family", "tokenizer"}
        if unknown or "limit" not in value:
            raise doc.error(node, f"{usage}; got the keys {', '.join(sorted(map(str, value)))}")
        for key in ("family", "tokenizer"):
            if key in value and not isinstance(value[key], str):
                raise doc.error(node, f"max_tokens {key} must be a name, not {value[key]!r}")
        limit = value["limit"]
        tokens = MaxTokens(0, value.get("family"), value.get("tokenizer"))
    else:
        limit, tokens = value, MaxTokens(0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise doc.error(node, f"{usage}, not {limit!r}")
    tokens.limit = limit
    return tokens


def _exclude(doc, node) -> list[str]:
    value = doc.value(node)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise doc.error(node, f"exclude must be a list of `svit check` rules, not {value!r}")
    # The rule names are checked against the check of each source (check_runs lists them).
    return list(dict.fromkeys(value))


# --------------------------------------------------------------------------- against the warehouse


def resolve_drops(con: duckdb.DuckDBPyConnection, source: str, kind: str, drops: Drops) -> str | None:
    """Check `drops` of `source` against record_tokens / check_runs (resolving the tokenizer);
    the reason they cannot apply, in one sentence, or None."""
    if not drops:
        return None
    present = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    keys = _source_keys(source, kind)
    try:
        if drops.max_tokens is not None:
            problem = _resolve_tokens(con, source, keys, drops.max_tokens, RECORD_TOKENS in present)
            if problem:
                return problem
        if drops.exclude:
            problem = _check_exclude(con, source, keys, drops.exclude, CHECK_RUNS in present)
            if problem:
                return problem
        if drops.images_ok:
            return _check_images(con, source, kind, IMAGE_FILES in present)
    except duckdb.Error as exc:  # a table another svit wrote in another shape
        return f"cannot read what {source} was counted or checked for: {first_line(exc)}; count or check it again"
    return None


def _source_keys(source: str, kind: str) -> str:
    """(key, id) of each record of the source: the key record_tokens and check_results use."""
    if kind == "llava_file":
        return f"select record_index as key, id from stg_llava__records where llava_file = {sql_str(source)}"
    return f"select record_order as key, id::varchar as id from {sql_ident(source)}"


def _resolve_tokens(con, source: str, keys: str, tokens: MaxTokens, present: bool) -> str | None:
    if not present:
        family = tokens.family or "F"
        return f"max_tokens: no token counts of {source}: run `svit tokens --family {family} --model {source}` first"
    try:
        tokens.family, tokens.tokenizer, tokens.fingerprint = counted_by(con, source, tokens.family, tokens.tokenizer)
    except SvitError as exc:
        # Several kinds: the recipe names one in the mapping form.
        return f"max_tokens: {exc}" + (
            " (max_tokens: {limit: N, family: F, tokenizer: T})" if "several kinds" in str(exc) else ""
        )
    [(stale,)] = con.execute(stale_count_sql(keys, "key", source, tokens.fingerprint, tokens.family)).fetchall()
    if stale:
        return (
            f"the token counts of {source} ({tokens.family}, {tokens.tokenizer}) miss {stale:,} of its records "
            f"as it holds them now: run `svit tokens --family {tokens.family} --model {source}` again"
        )
    return None


def _check_exclude(con, source: str, keys: str, rules: list[str], present: bool) -> str | None:
    redo = f"run `svit check {source}`"
    run = (
        con.execute(
            f"select records, rules, skipped_rules, model_rules, ids_md5 from {CHECK_RUNS} where model = ?",
            [source],
        ).fetchall()
        if present
        else []
    )
    if not run:
        return f"exclude needs {source} checked: {redo} first"
    records, evaluated, skipped, model_rules, ids_md5 = run[0]
    known = [r for r in evaluated + skipped if r not in model_rules]
    for rule in rules:
        if rule in model_rules:
            return f"exclude: {rule} judges a model as a whole, not its records; it cannot leave records out"
        if rule not in known:
            return f"exclude: unknown rule {rule!r}; rules: {', '.join(known)}"
    missing = [r for r in rules if r not in evaluated]
    if missing:
        return (
            f"the last check of {source} did not run {', '.join(missing)} (its tables or options were "
            f"missing): {redo} with what those rules need (docs/check.md)"
        )
    [(now, digest)] = con.execute(
        f"select (select count(*) from ({keys})), ({ids_digest_sql(keys, 'key', 'id')})"
    ).fetchall()
    if now != records or digest != ids_md5:
        return f"{source} changed since it was checked ({records:,} records then, {now:,} now): {redo} again"
    return None


def _check_images(con, source: str, kind: str, present: bool) -> str | None:
    redo = f"`svit images ROOT --model {source}`"
    if not present:
        return f"images: ok needs the image files checked: run {redo} first"
    records = (
        f"select path as image from ({file_images_sql(source)})"
        if kind == "llava_file"
        else f"select image from {sql_ident(source)} where image is not null"
    )
    [(unscanned,)] = con.execute(
        f"select count(*) from ({records}) r where not exists (select 1 from {IMAGE_FILES} f where f.path = r.image)"
    ).fetchall()
    if unscanned:
        return f"images: ok: {unscanned:,} records of {source} name images `svit images` has not checked: run {redo}"
    return None


def manifest_drops(dropped: Any) -> dict[str, int]:
    """The per-reason counts mix_user_sources holds (a JSON text of reason -> records)."""
    return dict(sorted(json.loads(dropped or "{}").items()))
