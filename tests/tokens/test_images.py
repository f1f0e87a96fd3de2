"""Image-token rules on the worked examples (800x600 unless named; docs/tokens.md#image-tokens)."""

from __future__ import annotations

import pytest

from svit.tokens import images


def test_llava_15_is_fixed():
    assert images.llava_15_tokens(800, 600) == images.llava_15_tokens(10, 4000) == 576


def test_llava_next_clip_336():
    assert images.best_resolution(800, 600, images.LLAVA_NEXT_PINPOINTS) == (672, 672)
    assert images.unpadded_grid(800, 600, 48, 48) == (36, 48)
    assert images.llava_next_tokens(800, 600) == 576 + 36 * 49 == 2340
    assert images.llava_next_tokens(336, 336) == 576 + 24 * 25 == 1176


def test_llava_onevision_anyres_max_9():
    candidates = images.onevision_candidates(384, 6)
    assert images.best_resolution(800, 600, candidates) == (1152, 768)
    assert images.llava_next_tokens(800, 600, candidates, tile=384, max_tiles=9) == 729 + 54 * 74 == 4725


def test_qwen_smart_resize():
    assert images.smart_resize(800, 600) == (812, 588)
    assert images.qwen2_vl_tokens(800, 600) == 42 * 58 // 4 == 609
    # qwen-vl-finetune's default max_pixels
    assert images.smart_resize(800, 600, max_pixels=576 * 28 * 28) == (756, 560)
    assert images.qwen2_vl_tokens(800, 600, max_pixels=576 * 28 * 28) == 540
    # a small image is scaled up to min_pixels
    assert images.smart_resize(20, 20) == (56, 56)
    with pytest.raises(ValueError):
        images.smart_resize(10_000, 20)


def test_internvl_tiles_and_thumbnail():
    assert images.internvl_grid(800, 600, max_tiles=12) == (4, 3)
    assert images.internvl_tokens(800, 600, max_tiles=12) == (12 + 1) * 256 == 3328
    assert images.internvl_grid(800, 600, max_tiles=6) == (3, 2)
    assert images.internvl_tokens(800, 600) == (6 + 1) * 256 == 1792
    # one tile: no thumbnail
    assert images.internvl_tokens(448, 448) == 256
    assert images.INTERNVL_TOKENS_PER_TILE == 256
