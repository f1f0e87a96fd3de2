"""The ingest tests' generated corpus, and the same ingested once per session."""

from __future__ import annotations

from pathlib import Path

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
