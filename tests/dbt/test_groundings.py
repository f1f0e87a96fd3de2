"""int_referring_grounded: every referring turn of the bundled sample, in every grounding
syntax, equals what an independent Python rendering of the `boxes` table gives, and each
syntax parses back into (phrase, boxes) pairs equal to the boxes after its conversion."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest

from tests.helpers import query, table

GROUNDINGS = ("original", "pixels", "qwen_vl", "qwen2_vl", "qwen2_5_vl", "internvl", "plain_phrase")
MIN_PIXELS, MAX_PIXELS = 3136, 1003520  # dbt_project.yml's defaults


def smart_resize(height: int, width: int, factor: int = 28) -> tuple[int, int]:
    """transformers' Qwen2-VL smart_resize, as written there."""
    h, w = round(height / factor) * factor, round(width / factor) * factor
    if h * w > MAX_PIXELS:
        beta = math.sqrt(height * width / MAX_PIXELS)
        h, w = math.floor(height / beta / factor) * factor, math.floor(width / beta / factor) * factor
    elif h * w < MIN_PIXELS:
        beta = math.sqrt(MIN_PIXELS / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


def converted(box: tuple[float, ...], grounding: str, width: int, height: int) -> tuple:
    """A box's numbers as `grounding` writes them (the documented conversion and rounding)."""
    sides = (width, height, width, height)
    if grounding == "original":
        return box
    if grounding == "pixels":
        return tuple(round(v * s) for v, s in zip(box, sides, strict=True))
    if grounding == "qwen2_5_vl":
        rh, rw = smart_resize(height, width)
        resized = (rw, rh, rw, rh)
        return tuple(min(max(round((v * s) * (r / s)), 0), r - 1) for v, s, r in zip(box, sides, resized, strict=True))
    return tuple(min(max(round((v * s) / s * 1000), 0), 1000) for v, s in zip(box, sides, strict=True))


def render(phrase: str, boxes: list[tuple], grounding: str, width: int, height: int) -> str:
    c = [converted(b, grounding, width, height) for b in boxes]
    if grounding == "plain_phrase":
        return phrase
    if grounding in ("original", "pixels"):
        return phrase + " " + ", ".join("[" + ", ".join(map(str, b)) + "]" for b in c)
    if grounding == "qwen_vl":
        return f"<ref>{phrase}</ref>" + "".join(f"<box>({b[0]},{b[1]}),({b[2]},{b[3]})</box>" for b in c)
    if grounding == "internvl":
        return f"<ref>{phrase}</ref><box>[" + ", ".join("[" + ", ".join(map(str, b)) + "]" for b in c) + "]</box>"
    tokens = "".join(f"<|box_start|>({b[0]},{b[1]}),({b[2]},{b[3]})<|box_end|>" for b in c)
    return f"<|object_ref_start|>{phrase}<|object_ref_end|>{tokens}"


# Each tagged syntax read back: (phrase, [box, ...]) per mark.
PARSERS = {
    "qwen_vl": (r"<ref>(.*?)</ref>((?:<box>\(\d+,\d+\),\(\d+,\d+\)</box>)+)", r"\((\d+),(\d+)\),\((\d+),(\d+)\)"),
    "qwen2_vl": (
        r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|>((?:<\|box_start\|>\(\d+,\d+\),\(\d+,\d+\)<\|box_end\|>)+)",
        r"\((\d+),(\d+)\),\((\d+),(\d+)\)",
    ),
    "internvl": (r"<ref>(.*?)</ref><box>\[(.*?)\]</box>", r"\[(\d+), (\d+), (\d+), (\d+)\]"),
}
PARSERS["qwen2_5_vl"] = PARSERS["qwen2_vl"]


def parse(text: str, grounding: str) -> list[tuple[str, list[tuple[int, ...]]]]:
    mark, box = PARSERS[grounding]
    return [(phrase, [tuple(map(int, b)) for b in re.findall(box, boxes)]) for phrase, boxes in re.findall(mark, text)]


@pytest.fixture(scope="module")
def referring(built_sample):
    """(image_id, block, turn) -> (original text, marks [(start, end, phrase, boxes)]), sizes, rendered rows."""
    turns = {
        (t["image_id"], t["block"], t["turn"]): t["text"] for t in table(built_sample, "turns", "task = 'referring_qa'")
    }
    sizes = {i["image_id"]: (i["width"], i["height"]) for i in table(built_sample, "images")}
    marks = defaultdict(dict)
    for b in table(built_sample, "boxes", order="image_id, block, turn, mark_index, box_index"):
        key = (b["image_id"], b["block"], b["turn"])
        m = marks[key].setdefault(b["mark_index"], [b["mark_offset"], 0, b["phrase"], []])
        m[1] = b["box_offset"] + len(b["box_text"])
        m[3].append((b["x1"], b["y1"], b["x2"], b["y2"]))
    columns = ", ".join(f"text_{g}" for g in GROUNDINGS)
    rows = query(built_sample, f"select image_id, block, turn, {columns} from int_referring_grounded")
    return turns, sizes, marks, {(r[0], r[1], r[2]): dict(zip(GROUNDINGS, r[3:], strict=True)) for r in rows}


def test_every_referring_turn_is_grounded(referring):
    turns, _, marks, rows = referring
    assert set(rows) == set(turns) and len(rows) > 1000
    assert sum(len(m) for m in marks.values()) > 5000


@pytest.mark.parametrize("grounding", GROUNDINGS)
def test_each_syntax_equals_the_python_rendering_of_the_boxes(referring, grounding):
    turns, sizes, marks, rows = referring
    differ = []
    for key, text in turns.items():
        width, height = sizes[key[0]]
        out, at = "", 0
        for start, end, phrase, boxes in (marks[key][i] for i in sorted(marks.get(key, {}))):
            out += text[at:start] + render(phrase, boxes, grounding, width, height)
            at = end
        expected = (out + text[at:]).replace("<st>", "").replace("<ed>", "")
        if rows[key][grounding] != expected:
            differ.append((key, rows[key][grounding], expected))
    assert not differ, differ[:3]


@pytest.mark.parametrize("grounding", ["qwen_vl", "qwen2_vl", "qwen2_5_vl", "internvl"])
def test_each_tagged_syntax_parses_back_to_the_boxes(referring, grounding):
    turns, sizes, marks, rows = referring
    for key in turns:
        width, height = sizes[key[0]]
        expected = [
            (phrase, [converted(b, grounding, width, height) for b in boxes])
            for _, _, phrase, boxes in (marks[key][i] for i in sorted(marks.get(key, {})))
        ]
        assert parse(rows[key][grounding], grounding) == expected, key


@pytest.mark.parametrize("grounding", ["original", "pixels"])
def test_bracketed_syntaxes_keep_every_box_in_order(referring, grounding):
    turns, sizes, marks, rows = referring
    number = r"(-?\d+(?:\.\d+)?)"
    for key in turns:
        width, height = sizes[key[0]]
        expected = [
            converted(b, grounding, width, height) for i in sorted(marks.get(key, {})) for b in marks[key][i][3]
        ]
        found = re.findall(rf"\[{number}, {number}, {number}, {number}\]", rows[key][grounding])
        assert [tuple(float(v) for v in f) for f in found] == [tuple(float(v) for v in e) for e in expected], key
