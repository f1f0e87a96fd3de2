"""synth.jsonfmt: streamed JSON arrays are byte-identical to json.dump of the whole list."""

from __future__ import annotations

import io
import json

import pytest

from synth.jsonfmt import HashingWriter, JsonArrayWriter, dumps_indented

ITEMS = [
    {"id": 2327515, "image": "gqa/images/2327515.jpg", "conversations": [{"from": "human", "value": "<image>\nq"}]},
    {
        "id": "x",
        "model": "",
        "conversations": [{"from": "human", "value": 'é "中文" 😀 \\ back\nslash'}, {"from": "gpt", "value": ""}],
    },
    {"a": [], "b": {}, "c": None, "d": True, "e": 1.5, "f": [[1, {}], {"x": {"y": [0.0, 1.0]}}]},
]


@pytest.mark.parametrize("indent", [None, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("items", [ITEMS, ITEMS[:1], []])
def test_streamed_array_equals_json_dump(indent, ensure_ascii, items):
    raw = io.BytesIO()
    sink = HashingWriter(raw, buffer_chars=7)
    writer = JsonArrayWriter(sink, indent, ensure_ascii)
    for item in items:
        writer.write(item)
    writer.close()
    expected = json.dumps(items, indent=indent, ensure_ascii=ensure_ascii).encode()
    assert raw.getvalue() == expected
    assert sink.bytes == len(expected)


@pytest.mark.parametrize("obj", ITEMS + [[], {}, "s", 3, [[]], {"k": [{}]}])
def test_dumps_indented_equals_json_dumps(obj):
    for indent in (2, 4):
        assert dumps_indented(obj, indent, False) == json.dumps(obj, indent=indent, ensure_ascii=False)
        assert dumps_indented(obj, indent, True) == json.dumps(obj, indent=indent)
