"""Where the warehouse lives and what is inside it (docs/warehouse.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from svit.core import settings


@dataclass(frozen=True)
class Warehouse:
    """A warehouse directory: one folder of Parquet files per table plus the DuckDB file."""

    root: Path

    @classmethod
    def resolve(cls, option: str | os.PathLike | None) -> Warehouse:
        """Pick the warehouse from --warehouse, then $SVIT_WAREHOUSE, then ./warehouse."""
        chosen = option or settings.warehouse_dir() or settings.DEFAULT_WAREHOUSE
        return cls(Path(chosen).resolve())

    @property
    def duckdb_path(self) -> Path:
        return self.root / "svit.duckdb"

    def llava_models(self) -> list[str]:
        """Model names of the ingested LLaVA files: the `source` partitions of llava_records."""
        snap = self.snapshot() or self.root
        folder = snap / "llava_records"
        if not folder.is_dir():
            return []
        return sorted(
            d.name.split("=", 1)[1]
            for d in folder.iterdir()
            if d.is_dir() and d.name.startswith("source=") and any(d.glob("*.parquet"))
        )

    # ------------------------------------------------------------------ state (`svit status`)

    def snapshot(self) -> Path | None:
        """The snapshot this process reads (see svit/core/snapshots.py)."""
        from svit.core.snapshots import current_snapshot

        return current_snapshot(self.root)

    def manifest(self) -> dict | None:
        from svit.core.snapshots import previous_manifest

        return previous_manifest(self.root)

    def sources(self) -> list[dict]:
        """The declared sources, as the current snapshot's manifest records them."""
        manifest = self.manifest()
        return list(manifest["files"]) if manifest else []

    def damaged_files(self) -> list[str]:
        """Table files of the current snapshot that no longer match its manifest."""
        from svit.core.snapshots import damaged_files

        snap, manifest = self.snapshot(), self.manifest()
        return damaged_files(snap, manifest) if snap is not None and manifest else []

    def models_state(self) -> tuple[str | None, str | None]:
        """(the snapshot the models were built from, the current one); the first is None when
        svit.duckdb is missing or carries no record."""
        from svit.core.snapshots import models_snapshot

        snap = self.snapshot()
        built = models_snapshot(self.root) if self.duckdb_path.is_file() else None
        return built, (snap.name if snap is not None else None)

    def stale_models(self, model: str | None = None) -> str | None:
        """Why the models (and `model`, when it is a user mix) cannot be trusted to match the
        tables, or None when they are fresh."""
        import json

        from svit.core.snapshots import models_record

        if not self.duckdb_path.is_file():
            return None  # nothing built: the command that needs models says so itself
        built, current = self.models_state()
        if built != current:
            return (
                f"models were built from snapshot {built or '(not recorded)'}, the warehouse is at {current}: "
                "run `svit build`"
            )
        if not (models_record(self.root) or {}).get("complete", True):
            return f"the last `svit build` (to snapshot {current}) did not finish: run `svit build`"
        # A full build does not rebuild user mixes (each needs its recipe): a mix knows its own snapshot.
        manifest = self.root / "mixes" / f"{model}.manifest.json"
        if model and manifest.is_file():
            mix = json.loads(manifest.read_text())
            if mix.get("kind") == "user" and mix.get("snapshot") not in (None, current):
                return (
                    f"mix {model} was built from snapshot {mix['snapshot']}, the warehouse is at {current}: "
                    f"run `svit mix {mix.get('recipe_file') or model}`"
                )
        return None

    def require_fresh_models(self, allow_stale: bool, model: str | None = None, tables_only: str = "") -> str | None:
        """SvitError when the models (or the mix `model`) are stale; with `allow_stale`, the
        warning to show instead. `tables_only` names the option that reads the tables alone."""
        from svit.core.errors import SvitError

        stale = self.stale_models(model)
        if stale and not allow_stale:
            alone = f", or {tables_only} to query the tables alone" if tables_only else ""
            raise SvitError(f"{stale} (or pass --allow-stale to read them anyway{alone})")
        return f"warning: {stale}; going on with --allow-stale" if stale else None
