"""The models database, svit.duckdb, that `svit build` (dbt) writes: the one way to open it.

Its facts live here too: the catalog name it is attached under, the columns that make a
relation a LLaVA-shaped model, and the models that concatenate others.
"""

from __future__ import annotations

import os
import re

import duckdb

from svit.core.errors import SvitError, first_line
from svit.core.facts import TASKS
from svit.core.sql import sql_ident, sql_str
from svit.core.warehouse import Warehouse

# dbt-duckdb names the database after the file stem; attached under the same name, the
# models' own fully qualified references keep working.
MODELS_CATALOG = "svit"
# The table of mix manifests (svit/mix/manifest.py writes it beside the mixes).
MIX_MANIFESTS = "mix_manifests"
# Token counts per record (svit/tokens writes them), and the counts per distinct text it caches.
RECORD_TOKENS = "record_tokens"
TOKEN_CACHE = "token_cache"
# What each model's counts in record_tokens were made from (svit/tokens: a rerun skips the models
# whose content and image sizes are unchanged).
RECORD_TOKENS_SOURCES = "record_tokens_sources"
# The findings of `svit check` (svit/check writes them), and one row per model it checked.
CHECK_RESULTS = "check_results"
CHECK_RUNS = "check_runs"
# What `svit images` found at every image path the records name (svit/images writes it).
IMAGE_FILES = "image_files"
# Facts of source records user mixes read, found once per model (mix_user's pre-hook,
# macros/recipes/record_cache.sql); every build forgets them (svit/mix/record_cache.py): the
# (record, phrase) pairs of coverage mixes, and each record's first answer as Yes / No.
QUESTION_PHRASES = "mix_question_phrases"
FIRST_ANSWERS = "mix_first_answers"
# Every table a command writes into svit.duckdb beside the models, with the line `svit sql
# --tables` shows for it (None: internal to its command, not listed). No mix may take these names.
COMMAND_TABLES: dict[str, str | None] = {
    MIX_MANIFESTS: "One row per mix built: kind, when, recipe file, records and the manifest JSON.",
    RECORD_TOKENS: (
        "One row per record, model family and tokenizer counted by `svit tokens`: text, image and total tokens."
    ),
    TOKEN_CACHE: None,  # counts by text hash, for `svit tokens` alone
    RECORD_TOKENS_SOURCES: None,  # the fingerprints of what was counted, for `svit tokens` alone
    QUESTION_PHRASES: None,  # for `svit mix` alone
    FIRST_ANSWERS: None,  # for `svit mix` alone
    IMAGE_FILES: (
        "One row per image path the records name, as `svit images` found the file: exists, bytes, format, "
        "size, mode, frames, decodable, error."
    ),
    CHECK_RESULTS: "One row per finding of `svit check`: model, record, rule, severity, detail.",
    CHECK_RUNS: "One row per model `svit check` checked: family, records, the rules it ran and those it skipped.",
}
# A relation with these columns is a LLaVA-format model: exportable, mixable, profiled.
LLAVA_COLUMNS = frozenset({"id", "image", "conversations", "record_order"})
# A model that is a view concatenating other models, in this order (models/marts): readers
# that go through the parts one after the other skip a sort of every record.
MODEL_PARTS = {"llava_svit_all": tuple(f"llava_svit_{task}" for task in TASKS)}
# The task models whose turns are SVIT's text as it is, the first behind `<image>\n`
# (models/intermediate/int_turns_rendered.sql rewrites only referring_qa's), by task: the
# statistics measure them through the SVIT turns (macros/svit_turn_measures.sql).
SVIT_TEXT_PARTS = {f"llava_svit_{task}": task for task in TASKS if task != "referring_qa"}


def read_parts(model: str, present: set[str] | list[str]) -> list[str]:
    """The relations to read `model`'s records from when their order does not matter: its parts
    (MODEL_PARTS) when all are built, which spares the sort of every record its view does (the
    parts carry the same record_order); else the model itself."""
    parts = MODEL_PARTS.get(model, ())
    return list(parts) if parts and set(parts) <= set(present) else [model]


def file_images_sql(llava_file: str) -> str:
    """Every image of an ingested LLaVA file's records as (llava_file, record_index, path), from
    stg_llava__media: several per LLaVA-NeXT or ShareGPT record, where `image` holds one at most."""
    return (
        "select llava_file, record_index, path from stg_llava__media "
        f"where llava_file = {sql_str(llava_file)} and kind = 'image'"
    )


def llava_models_of(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The LLaVA-shaped models and mixes of the database `con` is connected to (svit.duckdb)."""
    rows = con.execute(
        "select table_name, list(column_name) from duckdb_columns() where schema_name = 'main' "
        "and database_name = current_database() group by all"
    ).fetchall()
    return sorted(name for name, columns in rows if LLAVA_COLUMNS <= set(columns))


def ids_digest_sql(records: str, key: str, id_column: str) -> str:
    """A query giving one md5 of the ids of `records` in `key` order: what `svit check` records of
    the records it read, and what a recipe's `exclude:` compares to see the model changed since."""
    return (
        f"select md5(coalesce(string_agg({id_column}::varchar, chr(31) order by {key}), '')) "
        f"from ({records}) as digest_records"
    )


def _refusal(warehouse: Warehouse, exc: duckdb.Error) -> SvitError:
    """One line for a svit.duckdb that cannot be opened; a lock names its holder."""
    message = str(exc)
    if "lock" in message.lower():
        holder = re.search(r"PID (\d+)", message)
        who = f" (process {holder.group(1)})" if holder else ""
        return SvitError(
            f"{warehouse.duckdb_path} is locked by another process{who}: a `svit build`, `svit mix` or another "
            "writer is running. Wait for it to finish; the Parquet tables stay readable (`svit sql --no-models ...`)"
        )
    return SvitError(
        f"cannot open the models in {warehouse.duckdb_path}: {first_line(exc)}; run `svit build` to rebuild them"
    )


def remove_stale_spill(warehouse: Warehouse) -> int:
    """Remove what DuckDB spilt to disk for svit.duckdb (its folder `svit.duckdb.tmp`) in
    processes that are gone; how many files. DuckDB removes its spill files when it closes, so
    only a killed process leaves them: tens of GB after a large `svit check` or build. A file's
    name holds its process id (`duckdb_temp_<pid>_...`); a live process's files stay."""
    folder = warehouse.duckdb_path.with_name(warehouse.duckdb_path.name + ".tmp")
    removed = 0
    for path in folder.glob("duckdb_temp_*") if folder.is_dir() else ():
        pid = re.match(r"duckdb_temp_(\d+)_", path.name)
        if pid and not _alive(int(pid.group(1))):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                continue  # not ours to remove (another user's warehouse): left, and the command goes on
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def connect(warehouse: Warehouse, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to svit.duckdb itself (read-only unless a mix manifest is being written)."""
    remove_stale_spill(warehouse)
    try:
        return duckdb.connect(str(warehouse.duckdb_path), read_only=read_only)
    except duckdb.Error as exc:
        raise _refusal(warehouse, exc) from exc


# What an earlier version of the dbt project built and this one does not: dbt leaves a
# relation it no longer defines in place, so `svit build` drops these. python_round3_ties was
# a seed; its table of ties is now a constant in macros/python_rounding.sql.
RETIRED_RELATIONS = ("python_round3_ties",)


def drop_retired_relations(warehouse: Warehouse) -> None:
    """Drop RETIRED_RELATIONS from svit.duckdb where a build by an earlier version left them."""
    if not warehouse.duckdb_path.is_file():
        return
    con = connect(warehouse, read_only=False)
    try:
        for name in RETIRED_RELATIONS:
            con.execute(f"drop table if exists main.{sql_ident(name)}")
    finally:
        con.close()


def attach(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    """Attach svit.duckdb read-only to `con` as MODELS_CATALOG."""
    try:
        con.execute(f"attach {sql_str(warehouse.duckdb_path)} as {MODELS_CATALOG} (read_only)")
    except duckdb.Error as exc:
        raise _refusal(warehouse, exc) from exc


def built_relations(warehouse: Warehouse) -> dict[str, set[str]]:
    """Tables and views in svit.duckdb with their column names ({} before a build)."""
    if not warehouse.duckdb_path.is_file():
        return {}
    con = connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            "select table_name, list(column_name) from duckdb_columns() where schema_name = 'main' group by all"
        ).fetchall()
    finally:
        con.close()
    return {name: set(columns) for name, columns in rows}
