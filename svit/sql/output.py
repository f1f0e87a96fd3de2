"""How `svit sql` writes a result: an aligned text table, CSV or JSON, from batches of rows.

Every writer takes the column names, DuckDB's type names and an iterator of row batches, so
a result streams out without being held whole (the table format keeps only the rows it
shows), and returns the number of rows written.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from typing import IO, Any

FORMATS = ("table", "csv", "json")
MAX_TABLE_ROWS = 1000  # the table format shows this many rows; csv and json write all
MAX_CELL_WIDTH = 60
# Types whose column the table format aligns right.
_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)"
)


# --------------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON-ready Python: lists/dicts kept, decimals, dates, UUIDs as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN/inf are not JSON
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)


def _text(value: Any) -> str:
    """A value as one piece of text: strings as they are, nested values as JSON, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    plain = _plain(value)
    if isinstance(plain, (list, dict)):
        return json.dumps(plain, ensure_ascii=False)
    if isinstance(plain, bool):
        return "true" if plain else "false"
    return str(plain)


# --------------------------------------------------------------------------- formats


def write_json(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """A JSON array of objects, one per line; JSON columns embedded as JSON."""
    keys = _unique(columns)
    is_json = [t == "JSON" for t in types]
    n = 0
    out.write("[")
    for rows in batches:
        for row in rows:
            record = {}
            for key, value, parse in zip(keys, row, is_json, strict=True):
                if parse and isinstance(value, str):
                    try:
                        record[key] = json.loads(value)
                        continue
                    except ValueError:
                        pass
                record[key] = _plain(value)
            out.write(("\n" if n == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
            n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_csv(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """CSV with a header row; NULL as an empty field, nested values as JSON."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for rows in batches:
        writer.writerows([_text(v) for v in row] for row in rows)
        n += len(rows)
    return n


def write_table(columns: list[str], types: list[str], batches, out: IO[str]) -> int:
    """An aligned text table (at most MAX_TABLE_ROWS rows), then "(N rows)"."""
    shown: list[list[str]] = []
    n = 0
    for rows in batches:
        for row in rows:
            if len(shown) < MAX_TABLE_ROWS:
                shown.append([_cell(v) for v in row])
        n += len(rows)
    if columns:
        header = [_clip(c) for c in columns]
        widths = [max([_width(h)] + [_width(r[i]) for r in shown]) for i, h in enumerate(header)]
        right = [bool(_NUMERIC.match(t)) for t in types]
        out.write(_line(header, widths, right) + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for cells in shown:
            out.write(_line(cells, widths, right) + "\n")
    note = f"({n:,} {'row' if n == 1 else 'rows'}"
    if n > len(shown):
        note += f"; the first {len(shown):,} shown: add a LIMIT, or use --format csv or json for all"
    out.write(note + ")\n")
    return n


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and math.isfinite(value):
        text = f"{value:.4f}".rstrip("0").rstrip(".") if value == 0 or abs(value) >= 1e-4 else f"{value:.3e}"
    else:
        text = _text(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    return _clip(text)


def _clip(text: str) -> str:
    """Text cut to MAX_CELL_WIDTH display columns, ending in … when cut."""
    if _width(text) <= MAX_CELL_WIDTH:
        return text
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > MAX_CELL_WIDTH - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _line(cells: list[str], widths: list[int], right: list[bool]) -> str:
    parts = []
    for cell, width, align_right in zip(cells, widths, right, strict=True):
        pad = " " * (width - _width(cell))
        parts.append(pad + cell if align_right else cell + pad)
    return "  ".join(parts).rstrip()


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _width(text: str) -> int:
    """Display columns of `text` (wide East Asian characters count two)."""
    return len(text) if text.isascii() else sum(_char_width(ch) for ch in text)


def _unique(columns: list[str]) -> list[str]:
    """Column names made unique for JSON keys: a, a_1, a_2 ..."""
    seen: dict[str, int] = {}
    keys = []
    for name in columns:
        key, i = name, 0
        while key in seen:
            i += 1
            key = f"{name}_{i}"
        seen[key] = 1
        keys.append(key)
    return keys


# The writer of each format: (columns, types, batches of rows, out) -> rows written.
WRITERS: dict[str, Callable[[list[str], list[str], Iterable[list[tuple]], IO[str]], int]] = {
    "table": write_table,
    "csv": write_csv,
    "json": write_json,
}
