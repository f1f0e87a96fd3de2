"""What `json.dumps` puts between the tokens of a LLaVA file, for every `--indent` and `--ascii`:
the one description of the layout both renderings (SQL and compiled) write."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """What `json.dumps(records, indent=indent, ensure_ascii=ensure_ascii)` puts between tokens."""

    indent: int | None
    ensure_ascii: bool = False

    def open(self, level: int) -> str:
        """After `{` or `[` whose items stand at `level`."""
        return "" if self.indent is None else "\n" + " " * (self.indent * level)

    def sep(self, level: int) -> str:
        """Between two items standing at `level`."""
        return ", " if self.indent is None else ",\n" + " " * (self.indent * level)

    def close(self, level: int) -> str:
        """Before the `}` or `]` standing at `level`."""
        return self.open(level)

    def value(self, obj, level: int) -> str:
        """`obj` as json.dumps writes it when its key (or the value itself) stands at `level`."""
        text = json.dumps(obj, indent=self.indent, ensure_ascii=False)
        return text if self.indent is None else text.replace("\n", "\n" + " " * (self.indent * level))

    def members(self, extra_json: str, level: int) -> str:
        """The members of a JSON object (extra keys), each preceded by the separator at `level`."""
        extra = json.loads(extra_json)
        return "".join(
            f"{self.sep(level)}{json.dumps(k, ensure_ascii=False)}: {self.value(v, level)}" for k, v in extra.items()
        )
