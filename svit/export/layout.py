"""What `json.dumps` puts between the tokens of a LLaVA file, for every `--indent`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """What `json.dumps(records, indent=indent)` puts between tokens."""

    indent: int | None

    def open(self, level: int) -> str:
        """After `{` or `[` whose items stand at `level`."""
        return "" if self.indent is None else "\n" + " " * (self.indent * level)

    def sep(self, level: int) -> str:
        """Between two items standing at `level`."""
        return ", " if self.indent is None else ",\n" + " " * (self.indent * level)

    def close(self, level: int) -> str:
        """Before the `}` or `]` standing at `level`."""
        return self.open(level)
