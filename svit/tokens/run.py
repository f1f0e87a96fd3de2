"""`svit tokens`: each record's length in a model family's tokens, into svit.duckdb's record_tokens.

First each model's content is fingerprinted (a hash over its records, or its snapshot files) with
the family's layout and the image sizes it reads: a model whose fingerprints equal those of its
last count for this family and tokenizer (record_tokens_sources) is not read again. For the others,
DuckDB lays the conversations out as the family's trainer does, one piece per turn (plus the
header), and hashes every piece (md5). Only the pieces whose hash the cache `token_cache` does not
hold for this tokenizer are fetched and tokenised, in batches; their counts go into the cache as
each batch is done. Then one query sums each record's pieces, adds the image tokens (a rule of the
image size, computed once per distinct size, summed over the record's images) and the table is
swapped in within a transaction.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import duckdb
import pyarrow as pa

from svit.core import settings, snapshots
from svit.core.errors import SvitError
from svit.core.image_sizes import image_sizes_sql
from svit.core.models_db import (
    IMAGE_FILES,
    RECORD_TOKENS,
    RECORD_TOKENS_SOURCES,
    TOKEN_CACHE,
    connect,
    llava_models_of,
    read_parts,
)
from svit.core.parallel import ordered_map
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse
from svit.tokens.families import IMAGE_SLOT, Family, family
from svit.tokens.tokenizer import Counter, load_counter

DEFAULT_MART = "llava_svit_all"
BATCH_TEXTS = 20_000
# Batches counted at once: the machine's two cores (the tokenizers also use threads of their own).
COUNTING_THREADS = 2
# How many records without a known image size the summary names.
LISTED = 10

RECORD_TOKENS_COLUMNS = (
    "model varchar, record bigint, id varchar, family varchar, tokenizer varchar, tokenizer_fingerprint varchar, "
    "image varchar, width integer, height integer, turn_tokens integer[], text_tokens bigint, image_tokens bigint, "
    "total_tokens bigint"
)
TOKEN_CACHE_COLUMNS = "tokenizer_fingerprint varchar, text_hash blob, tokens integer"
SOURCES_COLUMNS = "model varchar, family varchar, tokenizer_fingerprint varchar, content varchar, layout varchar"


@dataclass
class TokensResult:
    family: str
    tokenizer: str
    fingerprint: str
    models: list[str]
    records: int = 0
    text_tokens: int = 0
    image_tokens: int = 0
    pieces: int = 0  # distinct pieces of text the records of the recounted models are made of
    encoded: int = 0  # of them, those tokenised now (the rest came from the cache)
    unchanged: list[str] = field(default_factory=list)  # models not read: as at their last count
    max_length: int | None = None
    over: int = 0  # records whose total is above max_length
    unknown_size: int = 0  # image records whose image size the warehouse does not know
    unknown_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        total = self.text_tokens + self.image_tokens
        lines = [
            f"{self.records:,} records of {', '.join(self.models)}: {total:,} tokens "
            f"({self.text_tokens:,} text, {self.image_tokens:,} image), family {self.family}, "
            f"tokenizer {self.tokenizer} ({self.fingerprint})",
        ]
        if len(self.unchanged) < len(self.models):
            lines.append(
                f"  texts: {self.pieces:,} distinct, {self.encoded:,} tokenised now, "
                f"{self.pieces - self.encoded:,} from the cache, in {self.seconds:.1f}s"
            )
        if self.unchanged:
            lines.append(
                f"  unchanged since their last count (records, layout and image sizes), not read again: "
                f"{', '.join(self.unchanged)}"
                + ("" if len(self.unchanged) < len(self.models) else f", in {self.seconds:.1f}s")
            )
        if self.max_length:
            counted = self.records - self.unknown_size
            share = self.over / counted if counted else 0.0
            lines.append(f"  over {self.max_length:,} tokens: {self.over:,} records ({share:.2%})")
        if self.unknown_size:
            lines.append(
                f"  image tokens unknown (an image of unknown size, or a video): {self.unknown_size:,} records "
                "(their image and total tokens left empty), e.g. " + ", ".join(self.unknown_examples)
            )
        lines.append(f'  table {RECORD_TOKENS} in svit.duckdb (`svit sql "select * from {RECORD_TOKENS}"`)')
        return lines


def choose_models(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, asked: Sequence[str]) -> list[str]:
    marts, files = llava_models_of(con), warehouse.llava_models()
    if not asked:
        return ([DEFAULT_MART] if DEFAULT_MART in marts else []) + files
    known = sorted(set(marts) | set(files))
    for model in asked:
        if model not in known:
            raise SvitError(f"no model named {model!r} in {warehouse.root}; models: {', '.join(known) or 'none'}")
    return list(dict.fromkeys(asked))


def content_fingerprints(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, models: Sequence[str]) -> dict[str, str]:
    """What each model's counts are made of, as a string that changes when they would. A model in
    svit.duckdb: its record count and a hash over every record's position, id, image and turns (most
    of a rerun's time: bench/README.md). An ingested file: its snapshot's Parquet files, which `svit
    ingest` writes once and never changes (a new ingest makes a new snapshot)."""
    marts = set(llava_models_of(con))
    snapshot = snapshots.current_snapshot(warehouse.root) or warehouse.root
    prints = {}
    for model in models:
        if model in marts:
            parts = " union all ".join(
                f"select record_order, id, image, conversations from {sql_ident(t)}" for t in read_parts(model, marts)
            )
            count, digest = con.execute(
                f"select count(*), bit_xor(hash(record_order, id, image, conversations)) from ({parts})"
            ).fetchall()[0]
            prints[model] = f"records {count} hash {digest}"
        else:
            files = sorted(
                (str(path.relative_to(snapshot)), path.stat().st_size, path.stat().st_mtime_ns)
                for table in ("llava_records", "llava_turns")
                for path in (snapshot / table / f"source={model}").glob("*.parquet")
            )
            prints[model] = f"{snapshot} " + hashlib.sha256(repr(files).encode()).hexdigest()[:32]
    return prints


def _rule(fam: Family, width: int, height: int) -> int | None:
    try:
        return fam.image_tokens(width, height)
    except ValueError:  # e.g. Qwen's aspect-ratio limit
        return None


# Image sizes the family's rule is probed on, so that a change to the rule shows in the fingerprint.
_PROBE_SIZES = ((1, 1), (28, 28), (336, 336), (500, 333), (640, 480), (800, 1200), (1920, 1080), (4000, 200))


# How a record's image tokens follow from its media (write_record_tokens), part of the layout
# fingerprint: counts made under another rule (before 2026-12-04: one `image` per record) are redone.
MEDIA_RULE = "the rule of each image summed per record; a video leaves them unknown"


def layout_fingerprint(con: duckdb.DuckDBPyConnection, fam: Family) -> str:
    """How the family turns a record into tokens, and the image sizes its image rule reads
    (tok_sizes), as a string: equal strings give equal counts for equal records."""
    layout = repr((fam.header, fam.turn_sql, fam.specials, [_rule(fam, w, h) for w, h in _PROBE_SIZES], MEDIA_RULE))
    digest = hashlib.sha256(layout.encode()).hexdigest()[:16]
    if not fam.needs_size:
        return f"layout {digest}, any size"
    count, sizes = con.execute("select count(*), bit_xor(hash(image, width, height)) from tok_sizes").fetchall()[0]
    return f"layout {digest}, sizes {count} hash {sizes}"


def unchanged_models(
    con: duckdb.DuckDBPyConnection, fam: Family, counter: Counter, prints: dict[str, str], layout: str
) -> list[str]:
    """The models whose last count for this family and tokenizer was made of the same content and
    layout, and whose rows are still in record_tokens."""
    con.execute(f"create table if not exists {RECORD_TOKENS_SOURCES} ({SOURCES_COLUMNS})")
    con.execute(f"create table if not exists {RECORD_TOKENS} ({RECORD_TOKENS_COLUMNS})")
    stored = dict(
        con.execute(
            f"select s.model, s.content from {RECORD_TOKENS_SOURCES} s where s.family = ? and "
            "s.tokenizer_fingerprint = ? and s.layout = ? and exists (select 1 from "
            f"{RECORD_TOKENS} r where r.model = s.model and r.family = s.family and "
            "r.tokenizer_fingerprint = s.tokenizer_fingerprint)",
            [fam.name, counter.fingerprint, layout],
        ).fetchall()
    )
    return [model for model, content in prints.items() if stored.get(model) == content]


def stage_records(con: duckdb.DuckDBPyConnection, warehouse: Warehouse, models: Sequence[str]) -> None:
    """Temp tables tok_records (model, record, id, image, has_media) and tok_media (model, record, kind,
    image: every image and video of a record), temp view tok_turns (model, record, turn, role, value)."""
    marts = set(llava_models_of(con))
    snapshot = snapshots.current_snapshot(warehouse.root) or warehouse.root
    records, media, turns = [], [], []
    for model in models:
        name = sql_str(model)
        if model in marts:
            for part in read_parts(model, marts):
                table = sql_ident(part)
                # A mix of LLaVA files says which records have media (has_image): one with several
                # images or a video holds no `image`, and is unknown rather than text-only.
                has_image = con.execute(
                    "select count(*) > 0 from duckdb_columns() where database_name = current_database() "
                    "and table_name = ? and column_name = 'has_image'",
                    [part],
                ).fetchall()[0][0]
                records.append(
                    f"select {name} as model, record_order as record, id::varchar as id, image, "
                    f"{'has_image' if has_image else 'image is not null'} as has_media from {table}"
                )
                media.append(
                    f"select {name} as model, record_order as record, 'image' as kind, image from {table} "
                    "where image is not null"
                )
                # unnest and generate_subscripts side by side zip the turns with their positions;
                # `unnest(...) with ordinality` gives the same rows far slower (DuckDB 2.0.1; bench/README.md).
                turns.append(
                    f"select model, record, turn, c.from as role, c.value as value from (select {name} as model, "
                    f"record_order as record, unnest(conversations) as c, "
                    f"(generate_subscripts(conversations, 1) - 1)::integer as turn from {table})"
                )
        else:
            folder = snapshot / "llava_records" / f"source={model}"
            records.append(
                # has_image: the record has media; `image` is set only for one image written as a
                # string: the media rows (llava_media) name every image and video.
                f"select {name} as model, record_index as record, id, image, has_image as has_media "
                f"from read_parquet({sql_str(folder / '*.parquet')})"
            )
            media_folder = snapshot / "llava_media" / f"source={model}"
            if any(media_folder.glob("*.parquet")):
                media.append(
                    f"select {name} as model, record_index as record, kind, path as image "
                    f"from read_parquet({sql_str(media_folder / '*.parquet')})"
                )
            turn_folder = snapshot / "llava_turns" / f"source={model}"
            if any(turn_folder.glob("*.parquet")):
                turns.append(
                    f"select {name} as model, record_index as record, turn, role, text as value "
                    f"from read_parquet({sql_str(turn_folder / '*.parquet')})"
                )
    con.execute(f"create or replace temp table tok_records as {' union all '.join(records)}")
    no_media = (
        "select null::varchar as model, null::bigint as record, null::varchar as kind, null::varchar as image "
        "where false"
    )
    con.execute(f"create or replace temp table tok_media as {' union all '.join(media) or no_media}")
    empty = (
        "select null::varchar as model, null::bigint as record, null::integer as turn, null::varchar as role, "
        "null::varchar as value where false"
    )
    # A view, not a table: the text is read where it lies (at full scale gigabytes that a temp
    # table would hold in memory).
    con.execute(f"create or replace temp view tok_turns as {' union all '.join(turns) or empty}")


def stage_pieces(con: duckdb.DuckDBPyConnection, fam: Family) -> None:
    """Temp view tok_piece_texts (model, record, turn, piece, text_hash): each turn as the family lays
    it out; temp table tok_pieces: the same without the text (the hashes are what the counts join on)."""
    con.execute(
        "create or replace temp view tok_piece_texts as select model, record, turn, piece, "
        f"unhex(md5(piece)) as text_hash from (select model, record, turn, {fam.turn_sql} as piece from tok_turns)"
    )
    con.execute("create or replace temp table tok_pieces as select model, record, turn, text_hash from tok_piece_texts")


def count_new_pieces(con: duckdb.DuckDBPyConnection, counter: Counter, header: str, progress: bool) -> tuple[int, int]:
    """Tokenise the distinct pieces (and the header) the cache lacks for this tokenizer; (distinct, new).

    Each new piece is named by one place it occurs (model, record, turn) and its text fetched from
    there while it is counted, so no step holds all the distinct texts at once (gigabytes at full scale).
    Two batches are counted at a time, in threads, while the next ones are read."""
    from tqdm import tqdm

    con.execute(f"create table if not exists {TOKEN_CACHE} ({TOKEN_CACHE_COLUMNS})")
    fp = sql_str(counter.fingerprint)
    cached = f"select text_hash from {TOKEN_CACHE} where tokenizer_fingerprint = {fp}"
    con.execute(
        "create or replace temp table tok_new as select text_hash, w.model, w.record, w.turn from ("
        "select text_hash, any_value({'model': model, 'record': record, 'turn': turn}) as w from tok_pieces "
        f"where text_hash not in ({cached}) group by text_hash)"
    )
    header_hash = con.execute(f"select unhex(md5({sql_str(header)}))").fetchall()[0][0]
    distinct = con.execute(
        "select count(distinct text_hash) + 1 from tok_pieces where text_hash <> ?", [header_hash]
    ).fetchall()[0][0]
    writer = con.cursor()
    try:
        new_header = not writer.execute(f"{cached} and text_hash = ?", [header_hash]).fetchall()
        if new_header:
            header_batch = pa.record_batch({"text_hash": pa.array([header_hash], pa.binary()), "piece": [header]})
            _store(writer, _counts(counter, header_batch))
        new = con.execute("select count(*) from tok_new where text_hash <> ?", [header_hash]).fetchall()[0][0]
        bar = tqdm(
            total=new, desc="tokens", unit=" texts", unit_scale=True, dynamic_ncols=True, leave=False,
            disable=None if progress else True,
        )  # fmt: skip
        reader = con.sql(
            "select n.text_hash, t.piece from tok_new n join tok_piece_texts t using (model, record, turn) "
            "where n.text_hash <> unhex(md5(" + sql_str(header) + "))"
        ).to_arrow_reader(BATCH_TEXTS)
        # The batches stream from `con`, which must not run another statement meanwhile: a second
        # connection to the same database (temp tables are per connection, the cache is not) writes the
        # counts, in the main thread, as each batch is done.
        with ThreadPoolExecutor(COUNTING_THREADS) as pool:
            count = partial(_counts, counter)
            for counts in ordered_map(pool, count, reader, COUNTING_THREADS):
                bar.update(_store(writer, counts))
        bar.close()
    finally:
        writer.close()
    return distinct, new + new_header


def _counts(counter: Counter, batch: pa.RecordBatch) -> pa.Table:
    """The cache rows of a batch of (text_hash, piece)."""
    texts = batch.column("piece")
    return pa.table(
        {
            "tokenizer_fingerprint": pa.array([counter.fingerprint] * len(texts), pa.string()),
            "text_hash": batch.column("text_hash"),
            "tokens": pa.array(counter.count(texts), pa.int32()),
        }
    )


def _store(con: duckdb.DuckDBPyConnection, counts: pa.Table) -> int:
    con.register("tok_batch_counts", counts)
    try:
        con.execute(f"insert into {TOKEN_CACHE} select * from tok_batch_counts")
    finally:
        con.unregister("tok_batch_counts")
    return counts.num_rows


def stage_sizes(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    """Temp table tok_sizes (image, width, height): the files' own sizes, where `svit images` read
    them, else the metadata's."""
    scanned = con.execute("select 1 from duckdb_tables() where table_name = ?", [IMAGE_FILES]).fetchall()
    query = image_sizes_sql(
        snapshots.current_snapshot(warehouse.root) or warehouse.root, IMAGE_FILES if scanned else None
    )
    con.execute(
        "create or replace temp table tok_sizes as "
        + (query or "select null::varchar as image, null::integer as width, null::integer as height where false")
    )


def stage_image_rule(con: duckdb.DuckDBPyConnection, fam: Family) -> None:
    """Temp table tok_image_rule (width, height, rule_tokens): the family's rule once per distinct size
    of the records' images (null where the rule refuses the size)."""
    sizes = con.execute(
        "select distinct s.width, s.height from tok_media m join tok_sizes s using (image) "
        "where m.kind = 'image' and s.width > 0 and s.height > 0"
    ).fetchall()
    rule = [_rule(fam, width, height) for width, height in sizes]
    table = pa.table(
        {
            "width": pa.array([w for w, _ in sizes], pa.int32()),
            "height": pa.array([h for _, h in sizes], pa.int32()),
            "rule_tokens": pa.array(rule, pa.int64()),
        }
    )
    con.register("tok_rule_arrow", table)
    try:
        con.execute("create or replace temp table tok_image_rule as select * from tok_rule_arrow")
    finally:
        con.unregister("tok_rule_arrow")


def write_record_tokens(
    con: duckdb.DuckDBPyConnection,
    fam: Family,
    counter: Counter,
    models: dict[str, str],
    layout: str,
    fixed_image_tokens: int | None,
) -> None:
    """Replace the rows of (these models, family, tokenizer) in record_tokens: the new table is made
    beside the old one and takes its name in one transaction, so a reader sees the old or the new.
    `models` maps each model to its content fingerprint, recorded with `layout` in the same
    transaction in record_tokens_sources."""
    fp, header = sql_str(counter.fingerprint), sql_str(fam.header)
    # A record's image tokens: the family's rule summed over its images; unknown (null) when one
    # image's size is unknown (where the rule reads it) or the record has a video (no rule here).
    per_image = f"{fixed_image_tokens}" if fixed_image_tokens is not None else "i.rule_tokens"
    media_tokens = f"""
        select m.model, m.record,
            case when bool_or(m.kind <> 'image' or ({per_image}) is null) then null else sum({per_image}) end
                as image_tokens
        from tok_media m
        left join tok_sizes s on s.image = m.image
        left join tok_image_rule i on i.width = s.width and i.height = s.height
        group by all
    """
    keep = (
        f"select * from {RECORD_TOKENS} where not (family = {sql_str(fam.name)} and tokenizer_fingerprint = {fp} "
        f"and model in ({', '.join(sql_str(m) for m in models)}))"
    )
    new = f"""
        select r.model, r.record, r.id, {sql_str(fam.name)} as family, {sql_str(counter.spec)} as tokenizer,
            {fp} as tokenizer_fingerprint, r.image, s.width, s.height,
            coalesce(t.turn_tokens, []::integer[]) as turn_tokens,
            (h.tokens + coalesce(t.turn_sum, 0))::bigint as text_tokens,
            (case when not r.has_media then 0 else mt.image_tokens end)::bigint as image_tokens,
            (h.tokens + coalesce(t.turn_sum, 0)
                + case when not r.has_media then 0 else mt.image_tokens end)::bigint as total_tokens
        from tok_records r
        left join (
            select p.model, p.record, list(c.tokens order by p.turn) as turn_tokens, sum(c.tokens) as turn_sum
            from tok_pieces p join {TOKEN_CACHE} c on c.tokenizer_fingerprint = {fp} and c.text_hash = p.text_hash
            group by all
        ) t using (model, record)
        left join tok_sizes s on s.image = r.image
        left join ({media_tokens}) mt using (model, record)
        cross join (
            select tokens from {TOKEN_CACHE} where tokenizer_fingerprint = {fp} and text_hash = unhex(md5({header}))
        ) h
    """
    con.execute("begin transaction")
    try:
        con.execute(f"create table if not exists {RECORD_TOKENS} ({RECORD_TOKENS_COLUMNS})")
        con.execute(
            f"create or replace table {RECORD_TOKENS}__new as select * from ({keep} union all by name {new}) "
            "order by model, family, tokenizer_fingerprint, record"
        )
        con.execute(f"drop table {RECORD_TOKENS}")
        con.execute(f"alter table {RECORD_TOKENS}__new rename to {RECORD_TOKENS}")
        con.execute(f"create table if not exists {RECORD_TOKENS_SOURCES} ({SOURCES_COLUMNS})")
        con.execute(
            f"delete from {RECORD_TOKENS_SOURCES} where family = ? and tokenizer_fingerprint = ? "
            f"and model in ({', '.join(sql_str(m) for m in models)})",
            [fam.name, counter.fingerprint],
        )
        con.executemany(
            f"insert into {RECORD_TOKENS_SOURCES} values (?, ?, ?, ?, ?)",
            [[model, fam.name, counter.fingerprint, content, layout] for model, content in models.items()],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def run_tokens(
    warehouse: Warehouse,
    family_name: str,
    tokenizer: str | None = None,
    models: Sequence[str] = (),
    max_length: int | None = None,
    progress: bool = True,
    counter: Counter | None = None,
) -> TokensResult:
    """Count the tokens of every record of `models` for `family_name` into record_tokens (module docstring).
    `counter` replaces the tokenizer (tests count its calls)."""
    started = time.perf_counter()
    fam = family(family_name)
    if counter is None:
        counter = load_counter(tokenizer or fam.default_tokenizer, fam.specials, IMAGE_SLOT)
    if not warehouse.duckdb_path.is_file():
        raise SvitError(
            f"no models in {warehouse.root}: run `svit build` first ({RECORD_TOKENS} is kept in svit.duckdb)"
        )
    with snapshots.write_lock(warehouse.root, "tokens"):
        con = connect(warehouse, read_only=False)
        try:
            # The pieces' hashes and the new texts' places are temporary tables (gigabytes at full scale);
            # past the limit DuckDB spills them to disk rather than growing (bench/README.md).
            con.execute(f"set memory_limit = {sql_str(settings.tokens_memory_limit())}")
            chosen = choose_models(warehouse, con, models)
            if not chosen:
                raise SvitError(f"no LLaVA models in {warehouse.root}: run `svit ingest` and `svit build` first")
            stage_sizes(con, warehouse)
            prints, layout = content_fingerprints(con, warehouse, chosen), layout_fingerprint(con, fam)
            unchanged = unchanged_models(con, fam, counter, prints, layout)
            stale = [model for model in chosen if model not in unchanged]
            max_length = fam.max_length if max_length is None else max_length
            result = TokensResult(fam.name, counter.spec, counter.fingerprint, chosen, max_length=max_length)
            result.unchanged = unchanged
            if stale:
                stage_records(con, warehouse, stale)
                stage_pieces(con, fam)
                result.pieces, result.encoded = count_new_pieces(con, counter, fam.header, progress)
                stage_image_rule(con, fam)
                fixed = None if fam.needs_size else fam.image_tokens(0, 0)
                write_record_tokens(con, fam, counter, {model: prints[model] for model in stale}, layout, fixed)
            mine = (
                f"from {RECORD_TOKENS} where family = {sql_str(fam.name)} and tokenizer_fingerprint = "
                f"{sql_str(counter.fingerprint)} and model in ({', '.join(sql_str(m) for m in chosen)})"
            )
            row = con.execute(
                f"select count(*), coalesce(sum(text_tokens), 0), coalesce(sum(image_tokens), 0), "
                f"count(*) filter (where total_tokens > {max_length}), "
                f"count(*) filter (where total_tokens is null) {mine}"
            ).fetchall()[0]
            result.records, result.text_tokens, result.image_tokens, over, result.unknown_size = row
            result.over = over
            result.unknown_examples = [
                f"{model} {image or 'several media or a video'}"
                for model, image in con.execute(
                    f"select model, image {mine} and total_tokens is null group by all order by all limit {LISTED}"
                ).fetchall()
            ]
        finally:
            con.close()
    result.seconds = time.perf_counter() - started
    return result
