"""LLaVA records as JSON text, written straight from DuckDB's Arrow batches by a compiled loop.

The export's SQL rendering (`export.record_sql`) makes DuckDB copy each record six times
(`to_json`, three `replace`, `concat`, the copy into Arrow). Here DuckDB hands over the
columns as they are (id text, image, the list of {from, value} turns) and one numba
function writes each batch's records into a single buffer: a first pass measures every
string's escapes (a branch-free loop LLVM vectorises), a second copies, escaping only the
64-byte chunks that need it. The function releases the GIL, so batches render on two
threads while DuckDB reads the next ones: less CPU than the SQL rendering (bench/README.md),
and the same bytes.

Escaping is json.dumps's with ensure_ascii=False: `"`, `\\`, `\\n`, `\\r`, `\\t`, `\\b`,
`\\f` with a backslash, other bytes below 0x20 as `\\u00xx`, everything else as it is. The
layout strings (spaces, newlines, indentation) come from `svit.export.layout.Layout`. Records with
extra keys, and `--ascii`, stay with the SQL rendering.

numba compiles on first use and caches the machine code beside this file (a few seconds,
once per install and CPU).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from svit.core.arrow_strings import string_layout

_SHORT_ESCAPES = {'"': '"', "\\": "\\", "\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f"}
# The letter after the backslash, for the bytes json.dumps escapes with one.
_SHORT = np.zeros(256, np.uint8)
for _char, _letter in _SHORT_ESCAPES.items():
    _SHORT[ord(_char)] = ord(_letter)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8).copy()
_NULL = np.frombuffer(b"null", np.uint8).copy()
_EMPTY_LIST = np.frombuffer(b"[]", np.uint8).copy()


@nb.njit(cache=True, nogil=True, inline="always")
def _byte_extra(b):
    """Bytes escaping adds to byte b: 1 for a backslash and letter, 5 for `\\u00xx`, else 0.
    Branch-free so that LLVM vectorises the loops over it; both passes use it, so the
    buffer the first one sizes is exactly what the second one writes."""
    short = (b == 8) | (b == 9) | (b == 10) | (b == 12) | (b == 13)
    return (b < 32) * 5 - short * 4 + (b == 34) + (b == 92)


@nb.njit(cache=True, nogil=True, inline="always")
def _extra(v):
    """Bytes that escaping adds to `v`."""
    n = 0
    for i in range(len(v)):
        n += _byte_extra(v[i])
    return n


@nb.njit(cache=True, nogil=True, inline="always")
def _copy(out, pos, v):
    # An explicit loop over views: numba's slice assignment copies through a temporary.
    o = out[pos : pos + len(v)]
    for j in range(len(v)):
        o[j] = v[j]
    return pos + len(v)


@nb.njit(cache=True, nogil=True)
def _escape(out, pos, v):
    for s in range(0, len(v), 64):
        chunk = v[s : s + 64]
        if _extra(chunk) == 0:
            pos = _copy(out, pos, chunk)
            continue
        for j in range(len(chunk)):
            b = chunk[j]
            extra = _byte_extra(b)
            if extra == 0:
                out[pos] = b
                pos += 1
            elif extra == 1:
                out[pos] = 92
                out[pos + 1] = _SHORT[b]
                pos += 2
            else:
                out[pos] = 92
                out[pos + 1] = 117  # u
                out[pos + 2] = 48
                out[pos + 3] = 48
                out[pos + 4] = _HEX[b >> 4]
                out[pos + 5] = _HEX[b & 15]
                pos += 6
    return pos


@nb.njit(cache=True, nogil=True, inline="always")
def _put_string(out, pos, v, extra):
    out[pos] = 34
    pos = _copy(out, pos + 1, v) if extra == 0 else _escape(out, pos + 1, v)
    out[pos] = 34
    return pos + 1


@nb.njit(cache=True, nogil=True, inline="always")
def _measure(ok, off, data, k, extras, i):
    """Bytes string k takes as JSON (`null` when missing); its escapes go to extras[i]."""
    if not ok[k]:
        return 4
    v = data[off[k] : off[k + 1]]
    extras[i] = _extra(v)
    return 2 + len(v) + extras[i]


@nb.njit(cache=True, nogil=True, inline="always")
def _put_value(out, pos, ok, off, data, k, extra):
    if not ok[k]:
        return _copy(out, pos, _NULL)
    return _put_string(out, pos, data[off[k] : off[k + 1]], extra)


@nb.njit(cache=True, nogil=True)
def _render(
    n,
    id_off,
    id_data,
    id_ok,
    has_image,
    img_off,
    img_data,
    img_ok,
    t_off,
    t_ok,
    f_off,
    f_data,
    f_ok,
    v_off,
    v_data,
    v_ok,
    text,
    scratch,
):
    """All `n` records back to back, at the start of `scratch` when it is large enough, else
    of a new buffer: (buffer, bytes written, -1), or (scratch, 0, r) when record r has a
    NULL id or image."""
    head, img_key, conv_key, list_open, turn_sep, turn_head, mid, turn_tail, list_close, tail = text
    base = t_off[0]
    from_extra = np.zeros(t_off[n] - base, np.int64)
    value_extra = np.zeros(t_off[n] - base, np.int64)
    size = 0
    for r in range(n):
        if not id_ok[r] or (has_image[r] and not img_ok[r]):
            return scratch, 0, r
        size += len(head) + id_off[r + 1] - id_off[r] + len(conv_key) + len(tail)
        if has_image[r]:
            v = img_data[img_off[r] : img_off[r + 1]]
            size += len(img_key) + 2 + len(v) + _extra(v)
        k0, k1 = t_off[r], t_off[r + 1]
        if not t_ok[r] or k1 == k0:
            size += 2
            continue
        size += len(list_open) + len(list_close) + (k1 - k0 - 1) * len(turn_sep)
        for k in range(k0, k1):
            size += len(turn_head) + len(mid) + len(turn_tail)
            size += _measure(f_ok, f_off, f_data, k, from_extra, k - base)
            size += _measure(v_ok, v_off, v_data, k, value_extra, k - base)
    out = scratch if len(scratch) >= size else np.empty(size, np.uint8)
    pos = 0
    for r in range(n):
        pos = _copy(out, pos, head)
        pos = _copy(out, pos, id_data[id_off[r] : id_off[r + 1]])
        if has_image[r]:
            pos = _copy(out, pos, img_key)
            v = img_data[img_off[r] : img_off[r + 1]]
            pos = _put_string(out, pos, v, _extra(v))
        pos = _copy(out, pos, conv_key)
        k0, k1 = t_off[r], t_off[r + 1]
        if not t_ok[r] or k1 == k0:
            pos = _copy(out, pos, _EMPTY_LIST)
        else:
            pos = _copy(out, pos, list_open)
            for k in range(k0, k1):
                if k > k0:
                    pos = _copy(out, pos, turn_sep)
                pos = _copy(out, pos, turn_head)
                pos = _put_value(out, pos, f_ok, f_off, f_data, k, from_extra[k - base])
                pos = _copy(out, pos, mid)
                pos = _put_value(out, pos, v_ok, v_off, v_data, k, value_extra[k - base])
                pos = _copy(out, pos, turn_tail)
            pos = _copy(out, pos, list_close)
        pos = _copy(out, pos, tail)
    if pos != size:
        raise AssertionError("json_kernel: rendered text and its measured size differ")
    return out, size, -1


class RecordText:
    """The constant text around a record's values for one layout, as json.dumps puts it."""

    def __init__(self, layout, prefix: str, suffix: str = "") -> None:
        L = layout
        pieces = (
            prefix + "{" + L.open(2) + '"id": ',
            L.sep(2) + '"image": ',
            L.sep(2) + '"conversations": ',
            "[" + L.open(3),
            L.sep(3),
            "{" + L.open(4) + '"from": ',
            L.sep(4) + '"value": ',
            L.close(3) + "}",
            L.close(2) + "]",
            L.close(1) + "}" + suffix,
        )
        self.arrays = tuple(np.frombuffer(p.encode(), np.uint8).copy() for p in pieces)


def render_batch(
    batch: pa.RecordBatch,
    text: RecordText,
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int]:
    """The JSON text of a batch with columns id_text, has_image, image, turns (list of
    {from, value}): (buffer, size, -1) with the text in buffer[:size] (`scratch` if it is
    large enough, else a new array), or (buffer, 0, i) when record i has a NULL id, or a
    NULL image where it has one."""
    ids, has_image, image, turns = (batch.column(name) for name in ("id_text", "has_image", "image", "turns"))
    t_off = turns.offsets.to_numpy().astype(np.int64)
    # flatten() applies the struct's own offset and nulls; fields are taken by name.
    fields = dict(zip((f.name for f in turns.type.value_type), turns.values.flatten(), strict=True))
    roles, values = fields["from"], fields["value"]
    return _render(
        len(batch),
        *_string_parts(ids),
        pc.fill_null(has_image, False).to_numpy(zero_copy_only=False),
        *_string_parts(image),
        t_off,
        turns.is_valid().to_numpy(zero_copy_only=False),
        *_string_parts(roles),
        *_string_parts(values),
        text.arrays,
        np.zeros(0, np.uint8) if scratch is None else scratch,
    )


def _string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (int64: the loops vectorise on them), bytes and validity of a string array."""
    offsets, data = string_layout(arr)
    return offsets.astype(np.int64), data, arr.is_valid().to_numpy(zero_copy_only=False)


def warm_up() -> float:
    """Compile (or load from the cache) the rendering, so the first export does not pay for
    it; seconds taken. `make` runs this once after installing."""
    import time

    from svit.export.layout import Layout

    started = time.perf_counter()
    batch = pa.RecordBatch.from_pydict(
        {"id_text": ["1"], "has_image": [True], "image": ["a.jpg"], "turns": [[{"from": "human", "value": "q\n"}]]},
        schema=pa.schema(
            [
                ("id_text", pa.string()),
                ("has_image", pa.bool_()),
                ("image", pa.string()),
                ("turns", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
            ]
        ),
    )
    render_batch(batch, RecordText(Layout(None), ""))
    return time.perf_counter() - started
