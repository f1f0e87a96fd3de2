"""`svit drop-mix NAME`: remove a user mix, all of it: its table and the two `svit mix` writes
beside it (`<name>__sources`, `<name>__coverage`) in svit.duckdb, its manifest file under
`<warehouse>/mixes/` and its row of the table `mix_manifests`. The published mixes are models
of the project, which `svit build` makes again: they are not dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from svit.core import snapshots
from svit.core.errors import SvitError
from svit.core.models_db import CHECK_RESULTS, CHECK_RUNS, RECORD_TOKENS, connect
from svit.core.models_db import MIX_MANIFESTS as MANIFEST_TABLE
from svit.core.sql import sql_ident
from svit.core.warehouse import Warehouse
from svit.mix.manifest import PUBLISHED
from svit.mix.recipe import COMPANION_SUFFIXES


@dataclass
class DroppedMix:
    name: str
    relations: list[str]  # the tables and views dropped from svit.duckdb, the mix's own first
    manifest_file: Path | None  # the manifest file removed, if there was one
    manifest_row: bool  # whether mix_manifests had a row for it

    def summary(self) -> str:
        """The one line `svit drop-mix` prints."""
        parts = (
            [f"{'table' if len(self.relations) == 1 else 'tables'} {', '.join(self.relations)}"]
            if self.relations
            else []
        )
        if self.manifest_file is not None:
            parts.append(f"manifest {self.manifest_file}")
        if self.manifest_row:
            parts.append(f"its row in {MANIFEST_TABLE}")
        return f"dropped mix {self.name}: " + "; ".join(parts)


def manifest_dir(warehouse: Warehouse) -> Path:
    return warehouse.root / "mixes"


def user_mixes(warehouse: Warehouse) -> list[str]:
    """The user mixes of the warehouse: rows of mix_manifests, or manifest files, of kind user."""
    names: set[str] = set()
    if warehouse.duckdb_path.is_file():
        con = connect(warehouse, read_only=True)
        try:
            if con.execute("select 1 from duckdb_tables() where table_name = ?", [MANIFEST_TABLE]).fetchall():
                names |= {r[0] for r in con.execute(f"select mix from {MANIFEST_TABLE} where kind = 'user'").fetchall()}
        finally:
            con.close()
    for path in sorted(manifest_dir(warehouse).glob("*.manifest.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("kind") == "user" and isinstance(manifest.get("mix"), str):
            names.add(manifest["mix"])
    return sorted(names)


def drop_mix(warehouse: Warehouse, name: str) -> DroppedMix:
    """Remove the user mix `name`; SvitError (one line) for a published mix or an unknown name."""
    with snapshots.write_lock(warehouse.root, "drop-mix"):
        if name in PUBLISHED:
            raise SvitError(
                f"{name} is a published mix, a model of the project that `svit build` makes again: it cannot "
                "be dropped (only user mixes, built from a recipe, can)"
            )
        mixes = user_mixes(warehouse)
        if name not in mixes:
            listed = ", ".join(mixes) if mixes else "none"
            raise SvitError(
                f"no user mix named {name!r} in {warehouse.root}; user mixes: {listed} "
                f"(published, not droppable: {', '.join(PUBLISHED)})"
            )
        relations, row = _drop_relations(warehouse, name)
        manifest_file = manifest_dir(warehouse) / f"{name}.manifest.json"
        if manifest_file.is_file():
            manifest_file.unlink()
        else:
            manifest_file = None
    return DroppedMix(name, relations, manifest_file, row)


def _drop_relations(warehouse: Warehouse, name: str) -> tuple[list[str], bool]:
    """Drop the mix's relations and its manifest row in one transaction: (the relations dropped, whether
    there was a row)."""
    if not warehouse.duckdb_path.is_file():
        return [], False
    wanted = [name, *(name + suffix for suffix in COMPANION_SUFFIXES)]
    con = connect(warehouse, read_only=False)
    try:
        kinds = dict(
            con.execute(
                "select table_name, 'table' from duckdb_tables() where schema_name = 'main' "
                "union all select view_name, 'view' from duckdb_views() where schema_name = 'main' and not internal"
            ).fetchall()
        )
        dropped = [r for r in wanted if r in kinds]
        con.execute("begin transaction")
        for relation in dropped:
            con.execute(f"drop {kinds[relation]} {sql_ident(relation)}")
        row = False
        if MANIFEST_TABLE in kinds:
            [(rows,)] = con.execute(f"select count(*) from {MANIFEST_TABLE} where mix = ?", [name]).fetchall()
            row = rows > 0
            con.execute(f"delete from {MANIFEST_TABLE} where mix = ?", [name])
        # What other commands computed about the mix describes a table that is gone.
        for table in (RECORD_TOKENS, CHECK_RESULTS, CHECK_RUNS):
            if table in kinds:
                con.execute(f"delete from {table} where model = ?", [name])
        con.execute("commit")
    finally:
        con.close()
    return dropped, row
