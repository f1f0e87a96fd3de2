"""JSON writing that matches ``json.dump`` byte for byte, streamed record by record.

``json.dump(records, f)`` builds the whole text in memory (and in Python 3.11 the
indented encoder is pure Python, hence slow); these writers emit the same bytes one
array element at a time, hash them on the way out and count them.
"""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any

_ENCODE_ASCII = json.encoder.encode_basestring_ascii
_ENCODE_UTF8 = json.encoder.encode_basestring


def dumps_indented(obj: Any, indent: int, ensure_ascii: bool, level: int = 0) -> str:
    """``json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii)`` with the opening at ``level``."""
    encode = _ENCODE_ASCII if ensure_ascii else _ENCODE_UTF8
    parts: list[str] = []
    _emit(obj, indent, encode, level, parts)
    return "".join(parts)


def _emit(obj: Any, indent: int, encode, level: int, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(encode(obj))
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = "\n" + " " * (indent * (level + 1))
        out.append("{")
        first = True
        for key, value in obj.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(encode(key))
            out.append(": ")
            _emit(value, indent, encode, level + 1, out)
        out.append("\n" + " " * (indent * level) + "}")
    elif isinstance(obj, list):
        if not obj:
            out.append("[]")
            return
        inner = "\n" + " " * (indent * (level + 1))
        out.append("[")
        first = True
        for value in obj:
            out.append(inner if first else "," + inner)
            first = False
            if type(value) is dict and value and all(type(v) is str for v in value.values()):
                _emit_flat_strings(value, indent, encode, level + 1, out)
            else:
                _emit(value, indent, encode, level + 1, out)
        out.append("\n" + " " * (indent * level) + "]")
    else:  # numbers, booleans, null: json's own spelling
        out.append(json.dumps(obj))


def encode_element(item: Any, indent: int | None, ensure_ascii: bool) -> str:
    """An array element's text as ``json.dump(list, indent=indent, ...)`` writes it (first line unpadded)."""
    if indent is None:
        return json.dumps(item, ensure_ascii=ensure_ascii)
    return dumps_indented(item, indent, ensure_ascii, level=1)


def _emit_flat_strings(obj: dict, indent: int, encode, level: int, out: list[str]) -> None:
    """Fast path for a non-empty dict of strings (a conversation turn)."""
    inner = "\n" + " " * (indent * (level + 1))
    out.append(
        "{"
        + inner
        + ("," + inner).join(encode(k) + ": " + encode(v) for k, v in obj.items())
        + "\n"
        + " " * (indent * level)
        + "}"
    )


class HashingWriter:
    """A text sink over a binary stream: UTF-8 encodes, buffers, counts bytes, hashes."""

    def __init__(self, raw: IO[bytes], buffer_chars: int = 1 << 20):
        self._raw = raw
        self._parts: list[str] = []
        self._pending = 0
        self._limit = buffer_chars
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._pending += len(text)
        if self._pending >= self._limit:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            data = "".join(self._parts).encode("utf-8")
            self._parts.clear()
            self._pending = 0
            self.sha256.update(data)
            self.bytes += len(data)
            self._raw.write(data)


class JsonArrayWriter:
    """Writes a JSON array element by element, byte-identical to ``json.dump(list, ...)``.

    ``indent=None`` gives json's defaults (``", "`` and ``": "`` separators, one line);
    an integer gives the indented layout with ``","`` item separators, as json does.
    """

    def __init__(self, sink: HashingWriter, indent: int | None, ensure_ascii: bool):
        self._sink = sink
        self._indent = indent
        self._ensure_ascii = ensure_ascii
        self._pad = "" if indent is None else " " * indent
        self.count = 0

    def encode(self, item: Any) -> str:
        """The element's text as it stands inside this array."""
        return encode_element(item, self._indent, self._ensure_ascii)

    def write(self, item: Any) -> None:
        self.write_encoded(self.encode(item))

    def write_encoded(self, text: str) -> None:
        """Append an element already encoded by ``encode`` of a writer with the same settings."""
        if self._indent is None:
            self._sink.write(("[" if self.count == 0 else ", ") + text)
        else:
            self._sink.write(("[\n" if self.count == 0 else ",\n") + self._pad + text)
        self.count += 1

    def close(self) -> None:
        if self.count == 0:
            self._sink.write("[]")
        else:
            self._sink.write("]" if self._indent is None else "\n]")
        self._sink.flush()
