"""A corpus generated once per test session, its ground truth, and a cached reader of its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synth.corpus import generate_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(out, images=300, seed=7)
    return out


@pytest.fixture(scope="session")
def truth(corpus) -> dict:
    return json.loads((corpus / "GROUND_TRUTH.json").read_text())


@pytest.fixture(scope="session")
def load(corpus):
    cache: dict[str, object] = {}

    def _load(relpath: str):
        if relpath not in cache:
            cache[relpath] = json.loads((corpus / relpath).read_text(encoding="utf-8"))
        return cache[relpath]

    return _load
