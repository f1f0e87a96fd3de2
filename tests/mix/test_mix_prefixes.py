"""bench/check_mix_prefixes.py: SVIT_mix_665K's records per image prefix, published and scaled."""

from __future__ import annotations

import importlib.util

import pytest

from svit.core.dbt import PROJECT_DIR
from tests.helpers import TRUTH

spec = importlib.util.spec_from_file_location("check_mix_prefixes", PROJECT_DIR / "bench" / "check_mix_prefixes.py")
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

# docs/formats.md, "The published recipes" (derived there from the parts of llava_v1_5_mix665k, not observed).
PUBLISHED = {"coco": 206_388, "vg": 244_129, "gqa": 72_140, "ocr_vqa": 80_000, "textvqa": 21_953, "none": 40_688}


def test_expected_figures_are_the_published_ones_and_the_generator_reaches_them_at_full_scale():
    assert check.expected_prefixes() == PUBLISHED
    assert sum(PUBLISHED.values()) == 665_298
    assert check.expected_prefixes(108_077) == PUBLISHED


def test_scaled_figures_equal_the_generators_ground_truth():
    assert check.expected_prefixes(TRUTH["images"]) == TRUTH["svit_mix_665k"]["records_per_image_prefix"]


def test_sample_mix_counts_scale_exactly(built_sample, capsys):
    assert check.count_prefixes(built_sample.root) == TRUTH["svit_mix_665k"]["records_per_image_prefix"]
    assert check.main(["--warehouse", str(built_sample.root), "--images", str(TRUTH["images"])]) == 0
    assert "all prefixes equal" in capsys.readouterr().out


def test_a_difference_exits_1_and_names_the_prefixes(built_sample, capsys):
    assert check.main(["--warehouse", str(built_sample.root)]) == 1  # the sample is not full scale
    assert "DIFFERENT: coco, vg, gqa, ocr_vqa, textvqa, none" in capsys.readouterr().err


@pytest.mark.parametrize("images", [1, 30, 1000])
def test_every_prefix_has_records_at_any_scale(images):
    assert all(n >= 2 for n in check.expected_prefixes(images).values())
