"""How many sequence positions an image takes, per model family (docs/tokens.md#image-tokens).

Each rule is a function of the image's width and height only, written from the trainers' and
processors' own arithmetic (the sources are named on each function). The numbers are positions
in the language model's sequence: what a trainer's length cut-off budgets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# LLaVA-1.5's vision tower, CLIP ViT-L/14 at 336 px: (336 // 14) ** 2 patches, the CLS token dropped.
LLAVA_15_IMAGE_TOKENS = (336 // 14) ** 2

# LLaVA-1.6 (CLIP-336) candidate resolutions, (width, height), from LLaVA-NeXT's CLIP fine-tune script.
LLAVA_NEXT_PINPOINTS: tuple[tuple[int, int], ...] = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))

# The Qwen2-VL image processor's defaults (transformers image_processing_qwen2_vl.py).
QWEN_PATCH = 14
QWEN_MERGE = 2
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 28 * 28 * 1280
QWEN_MAX_ASPECT = 200

# InternVL 2 / 2.5 second-stage fine-tune scripts: 448 px tiles, pixel shuffle 0.5, at most 6 tiles plus a thumbnail.
INTERNVL_TILE = 448
INTERNVL_TOKENS_PER_TILE = int((448 // 14) ** 2 * 0.5**2)
INTERNVL_MAX_TILES = 6


def llava_15_tokens(width: int, height: int) -> int:
    """LLaVA-1.5 pads the image to a square and resizes it to 336 px: the count never depends on the size."""
    return LLAVA_15_IMAGE_TOKENS


def best_resolution(width: int, height: int, candidates: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The candidate (width, height) that keeps the most of the image's pixels once it is scaled to fit,
    then wastes the fewest (LLaVA mm_utils.py select_best_resolution)."""
    best, best_kept, best_waste = candidates[0], -1, math.inf
    for cand_w, cand_h in candidates:
        scale = min(cand_w / width, cand_h / height)
        kept = min(int(width * scale) * int(height * scale), width * height)
        waste = cand_w * cand_h - kept
        if kept > best_kept or (kept == best_kept and waste < best_waste):
            best, best_kept, best_waste = (cand_w, cand_h), kept, waste
    return best


def unpadded_grid(width: int, height: int, rows: int, cols: int) -> tuple[int, int]:
    """The feature grid (rows, cols) once the rows or columns that show only letterbox padding are cut
    (LLaVA llava_arch.py unpad_image): the image was scaled to fit the grid and centred in it."""
    if width / height > cols / rows:
        kept = int(height * (cols / width))
        return rows - 2 * ((rows - kept) // 2), cols
    kept = int(width * (rows / height))
    return rows, cols - 2 * ((cols - kept) // 2)


def llava_next_tokens(
    width: int,
    height: int,
    candidates: Sequence[tuple[int, int]] = LLAVA_NEXT_PINPOINTS,
    tile: int = 336,
    patch: int = 14,
    max_tiles: int | None = None,
) -> int:
    """LLaVA-NeXT "anyres" with spatial_unpad: the base image (one tile's features) plus the grid of
    tiles, unpadded, each row ending in an image-newline token. `max_tiles` is OneVision's
    anyres_max_K: a grid above 1.1 times K tiles of features is shrunk by the ratio (llava_arch.py)."""
    side = tile // patch
    grid_w, grid_h = best_resolution(width, height, candidates)
    rows, cols = unpadded_grid(width, height, (grid_h // tile) * side, (grid_w // tile) * side)
    if max_tiles is not None:
        ratio = math.sqrt(rows * cols / (max_tiles * side * side))
        if ratio > 1.1:
            rows, cols = int(rows // ratio), int(cols // ratio)
    return side * side + rows * (cols + 1)


def onevision_candidates(tile: int = 384, largest: int = 6) -> list[tuple[int, int]]:
    """OneVision's "(1x1),...,(6x6)" grid pinpoints in pixels."""
    return [(i * tile, j * tile) for i in range(1, largest + 1) for j in range(1, largest + 1)]


def smart_resize(
    width: int,
    height: int,
    factor: int = QWEN_PATCH * QWEN_MERGE,
    min_pixels: int = QWEN_MIN_PIXELS,
    max_pixels: int = QWEN_MAX_PIXELS,
) -> tuple[int, int]:
    """The (width, height) a Qwen2-VL / Qwen2.5-VL processor resizes an image to: each side rounded to a
    multiple of `factor`, then scaled down (or up) as a whole to stay within the pixel budget
    (transformers image_processing_qwen2_vl.py smart_resize; qwen-vl-utils vision_process.py)."""
    if max(width, height) / min(width, height) > QWEN_MAX_ASPECT:
        raise ValueError(f"aspect ratio above {QWEN_MAX_ASPECT}")
    new_h = round(height / factor) * factor
    new_w = round(width / factor) * factor
    if new_h * new_w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        new_h = max(factor, math.floor(height / beta / factor) * factor)
        new_w = max(factor, math.floor(width / beta / factor) * factor)
    elif new_h * new_w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        new_h = math.ceil(height * beta / factor) * factor
        new_w = math.ceil(width * beta / factor) * factor
    return new_w, new_h


def qwen2_vl_tokens(
    width: int, height: int, min_pixels: int = QWEN_MIN_PIXELS, max_pixels: int = QWEN_MAX_PIXELS
) -> int:
    """One <|image_pad|> per merged 2x2 group of 14 px patches of the resized image."""
    new_w, new_h = smart_resize(width, height, min_pixels=min_pixels, max_pixels=max_pixels)
    return (new_h // QWEN_PATCH) * (new_w // QWEN_PATCH) // (QWEN_MERGE * QWEN_MERGE)


def internvl_ratios(max_tiles: int, min_tiles: int = 1) -> list[tuple[int, int]]:
    """Tile grids (columns, rows) with min..max tiles, fewest tiles first. Within one tile count the
    order is that of a Python set of the pairs, as InternVL's dataset.py builds them: ties between
    equally close ratios depend on it."""
    grids = {
        (i, j)
        for n in range(min_tiles, max_tiles + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_tiles <= i * j <= max_tiles
    }
    return sorted(grids, key=lambda grid: grid[0] * grid[1])


def internvl_grid(width: int, height: int, max_tiles: int = INTERNVL_MAX_TILES) -> tuple[int, int]:
    """The tile grid whose aspect ratio is closest to the image's; on a tie the later grid wins when the
    image has more than half the pixels of that grid (InternVL dataset.py find_closest_aspect_ratio)."""
    aspect = width / height
    best, best_diff = (1, 1), math.inf
    for cols, rows in internvl_ratios(max_tiles):
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best, best_diff = (cols, rows), diff
        elif diff == best_diff and width * height > 0.5 * INTERNVL_TILE * INTERNVL_TILE * cols * rows:
            best = (cols, rows)
    return best


def internvl_tokens(width: int, height: int, max_tiles: int = INTERNVL_MAX_TILES, thumbnail: bool = True) -> int:
    """256 tokens per 448 px tile; a thumbnail tile is added whenever the image is cut into more than one."""
    cols, rows = internvl_grid(width, height, max_tiles)
    tiles = cols * rows
    if thumbnail and tiles != 1:
        tiles += 1
    return tiles * INTERNVL_TOKENS_PER_TILE
