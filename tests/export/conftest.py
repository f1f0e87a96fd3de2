"""Warehouses for the export tests: the bundled sample (ingested and built once per session)
and a small one holding a LLaVA file of awkward values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.pipeline import run_ingest
from svit.core.warehouse import Warehouse

# Strings json.dumps escapes in every way it can: quotes, backslashes, each control
# character, DEL, non-ASCII in and beyond the BMP, line separators, text that looks like
# an escape sequence.
TRICKY_TEXTS = [
    'say "hi" \\ and \\\\ then \\" and \\u001F and \\x41 and \\U0001F600',
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "résumé 中文 日本語 😊👍🏽 \u2028\u2029 \ufeff \u00ad",
    "line\nbreak\r\n\ttab\b\f end",
    "",
    " leading and trailing spaces ",
    "/slash/ <b>html</b> &amp; 'single'",
    # the punctuation the export rewrites between keys, as text
    '[{"from":"human","value":"x"},{"from":"gpt","value":null}] ,"value": },{"from": }]',
    "ends in the list's closing }]",
]


def tricky_records() -> list[dict]:
    """LLaVA records with ids of both types, extra keys (nested, numbers) and turn extras."""
    records = []
    for i, text in enumerate(TRICKY_TEXTS):
        rec: dict = {"id": i * 1000 + 7 if i % 2 else f"tricky_{i}_{text[:3]}"}
        if i % 3 != 1:
            rec["image"] = f"coco/train2017/{i:012d}.jpg"
        if i % 3 == 1:
            rec["model"] = ""
        if i == 2:
            rec["meta"] = {
                "score": 0.1,
                "big": 12345678901234,
                "tags": ["a", "é"],
                "empty": [],
                "none": None,
                "nested": {"x": [1, 2.5, {"y": "z"}], "e": {}},
                "ok": True,
            }
        turns = [
            {"from": "human", "value": ("<image>\n" if "image" in rec else "") + text},
            {"from": "gpt", "value": text[::-1]},
        ]
        if i == 3:
            turns[1]["weight"] = 0.0
            turns[1]["note"] = {"k": ["v", 1]}
        rec["conversations"] = turns
        records.append(rec)
    return records


@pytest.fixture(scope="session")
def built(built_sample) -> Warehouse:
    return built_sample


def warehouse_of(tmp_path_factory, file_name: str, records: list[dict]) -> tuple[Warehouse, Path]:
    """A warehouse holding only one LLaVA file of `records`, written with indent=2."""
    source = tmp_path_factory.mktemp("llava_source")
    path = source / file_name
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    warehouse = Warehouse(tmp_path_factory.mktemp("llava_warehouse"))
    run_ingest(source, (path,), warehouse, progress=False)
    return warehouse, path


@pytest.fixture(scope="session")
def tricky(tmp_path_factory) -> tuple[Warehouse, Path]:
    """A warehouse holding only `Tricky-Values.json` (model `tricky_values`)."""
    return warehouse_of(tmp_path_factory, "Tricky-Values.json", tricky_records())
