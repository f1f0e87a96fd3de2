"""One warehouse of the bundled sample (with its LLaVA files), ingested and built once."""

from __future__ import annotations

import json

import pytest

from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from tests.conftest import query

TRUTH = json.loads((BUNDLED_SAMPLE / "GROUND_TRUTH.json").read_text())
OFFICIAL = BUNDLED_SAMPLE / "format" / "llava-v1.5"


@pytest.fixture(scope="session")
def warehouse(built_sample) -> Warehouse:
    return built_sample


def llava_records(wh: Warehouse, model: str) -> list[dict]:
    """A mix's records as json.load reads a LLaVA file: id with its JSON type, image only when
    present, extra keys, conversations."""
    out = []
    for id_json, has_image, image, extra, conversations in query(
        wh, f"select id_json, has_image, image, extra, conversations from {model} order by record_order"
    ):
        record = {"id": json.loads(id_json)}
        if has_image:
            record["image"] = image
        record.update(json.loads(extra) if extra else {})
        record["conversations"] = [{"from": t["from"], "value": t["value"]} for t in conversations]
        out.append(record)
    return out
