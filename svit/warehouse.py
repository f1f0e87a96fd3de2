"""Where the warehouse lives and what is inside it (DESIGN.md, "The warehouse")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WAREHOUSE = Path("warehouse")
ENV_VAR = "SVIT_WAREHOUSE"


@dataclass(frozen=True)
class Warehouse:
    """A warehouse directory: one folder of Parquet files per table plus the DuckDB file."""

    root: Path

    @classmethod
    def resolve(cls, option: str | os.PathLike | None) -> "Warehouse":
        """Pick the warehouse from --warehouse, then $SVIT_WAREHOUSE, then ./warehouse."""
        chosen = option or os.environ.get(ENV_VAR) or DEFAULT_WAREHOUSE
        return cls(Path(chosen).resolve())

    def table_dir(self, table: str) -> Path:
        return self.root / table

    @property
    def duckdb_path(self) -> Path:
        return self.root / "svit.duckdb"
