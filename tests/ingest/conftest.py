"""Fixtures for ingest tests: a generated corpus, hand-made small corpora, and table readers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.pipeline import run_ingest
from svit.core.warehouse import Warehouse
from synth.corpus import generate_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    """A 60-image synthetic corpus and its ground truth."""
    out = tmp_path_factory.mktemp("corpus")
    truth = generate_corpus(out, images=60, seed=11)
    return out, truth


@pytest.fixture(scope="session")
def ingested(corpus, tmp_path_factory) -> Warehouse:
    """The corpus above, ingested with its LLaVA mix files."""
    source, _ = corpus
    warehouse = Warehouse(tmp_path_factory.mktemp("warehouse"))
    run_ingest(
        source,
        (source / "llava" / "llava_v1_5_mix665k.json", source / "llava" / "llava_instruct_150k.json"),
        warehouse,
        progress=False,
    )
    return warehouse


def table(warehouse: Warehouse, name: str, where: str = "true", order: str = "all") -> list[dict]:
    """Rows of a warehouse table as dicts (hive partition columns included)."""
    con = duckdb.connect()
    rel = con.sql(
        f"select * from read_parquet('{warehouse.root / name}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) "
        f"where {where} order by {order}"
    )
    cols = rel.columns
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def count(warehouse: Warehouse, name: str, where: str = "true") -> int:
    con = duckdb.connect()
    return con.sql(
        f"select count(*) from read_parquet('{warehouse.root / name}/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) "
        f"where {where}"
    ).fetchall()[0][0]


def write_corpus(root: Path, tasks: dict[str, list], images: list[dict] | None = None) -> Path:
    """A small download folder: data/<task>.json from `tasks`, and image_data.json."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    for task, items in tasks.items():
        (root / "data" / f"{task}.json").write_text(json.dumps(items))
    if images is not None:
        vg = root / "raw" / "annotations" / "vg"
        vg.mkdir(parents=True, exist_ok=True)
        (vg / "image_data.json").write_text(json.dumps(images))
    return root


def vg_image(image_id: int, width: int = 800, height: int = 600, folder: str = "VG_100K") -> dict:
    return {
        "image_id": image_id,
        "url": f"https://cs.stanford.edu/people/rak248/{folder}/{image_id}.jpg",
        "width": width,
        "height": height,
        "coco_id": None,
        "flickr_id": None,
    }


def qa(question: str, answer: str) -> list[dict]:
    return [{"from": "user", "value": question}, {"from": "gpt", "value": answer}]
