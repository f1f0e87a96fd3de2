"""Same (images, seed) -> byte-identical corpus, zips included; another seed -> another corpus."""

from __future__ import annotations

import json
import zipfile

from svit.core.facts import TASKS
from synth.corpus import generate_corpus
from tests.helpers import file_hashes


def test_same_seed_gives_byte_identical_files(tmp_path):
    generate_corpus(tmp_path / "a", images=40, seed=3)
    generate_corpus(tmp_path / "b", images=40, seed=3)
    a, b = file_hashes(tmp_path / "a"), file_hashes(tmp_path / "b")
    assert len(a) == 13  # 4 data, 4 raw, 2 format, 2 llava, GROUND_TRUTH
    assert a == b


def test_ground_truth_lists_every_file_with_its_size_and_hash(tmp_path):
    truth = generate_corpus(tmp_path, images=40, seed=3)
    hashes = file_hashes(tmp_path)
    del hashes["GROUND_TRUTH.json"]
    assert {k: v["sha256"] for k, v in truth["files"].items()} == hashes
    assert all(v["bytes"] == (tmp_path / k).stat().st_size for k, v in truth["files"].items())
    assert json.loads((tmp_path / "GROUND_TRUTH.json").read_text()) == truth


def test_zipped_corpus_is_byte_identical_and_holds_the_same_json(tmp_path):
    generate_corpus(tmp_path / "z1", images=40, seed=3, zip_data=True)
    generate_corpus(tmp_path / "z2", images=40, seed=3, zip_data=True)
    generate_corpus(tmp_path / "plain", images=40, seed=3)
    assert file_hashes(tmp_path / "z1") == file_hashes(tmp_path / "z2")
    for task in TASKS:
        assert not (tmp_path / "z1" / "data" / f"{task}.json").exists()
        with zipfile.ZipFile(tmp_path / "z1" / "data" / f"{task}.zip") as zf:
            assert zf.namelist() == [f"{task}.json"]
            info = zf.getinfo(f"{task}.json")
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert zf.read(info) == (tmp_path / "plain" / "data" / f"{task}.json").read_bytes()


def test_rewriting_a_directory_in_the_other_form_leaves_no_stale_data_file(tmp_path):
    generate_corpus(tmp_path, images=12, seed=1)
    generate_corpus(tmp_path, images=12, seed=1, zip_data=True)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(f"{t}.zip" for t in TASKS)
    generate_corpus(tmp_path, images=12, seed=1)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(f"{t}.json" for t in TASKS)


def test_another_seed_gives_another_corpus(tmp_path):
    generate_corpus(tmp_path / "a", images=40, seed=3)
    generate_corpus(tmp_path / "b", images=40, seed=4)
    a, b = file_hashes(tmp_path / "a"), file_hashes(tmp_path / "b")
    for name in a:
        if name.startswith(("data/", "format/", "raw/annotations/vg/objects")):
            assert a[name] != b[name], name


def test_tiny_corpora_still_have_every_part(tmp_path):
    for images in (1, 2, 5):
        truth = generate_corpus(tmp_path / str(images), images=images, seed=0)
        assert truth["images"] == images
        assert all(n >= 1 for n in truth["core"]["records_per_task"].values())
        assert truth["svit_mix_665k"]["records"] == truth["llava_mix665k"]["records"]
        assert all(n >= 2 for n in truth["llava_mix665k"]["records_per_part"].values())
