"""Image files for a synthetic corpus (`svit sample --with-images`): a small real file at every
path the corpus's records name, under `<corpus>/images/` in LLaVA's layout (`vg/VG_100K/1.jpg`,
`coco/train2017/000000033471.jpg`, `gqa/images/...`), with the size the corpus's metadata gives
(Visual Genome's image_data.json, COCO's caption image list; other folders a fixed size), and
planted defects of the kinds that stop training runs, each listed in the ground truth:

  missing        no file at the path;
  empty          a 0-byte file;
  truncated      a JPEG cut in half (no end-of-image marker);
  gif_as_jpg     an animated GIF saved under a .jpg name;
  png_as_jpg     a PNG saved under a .jpg name;
  size_mismatch  a JPEG whose size disagrees with the metadata;
  cmyk           a CMYK JPEG (trainers that expect RGB may fail on it).

The defects fall on Visual Genome images that the SVIT data uses, one kind after another,
chosen by the seed. A plain image is one colour, so files are small and quick to write (the
encoded bytes are reused for every image of the same size).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

from synth.seeds import stream

IMAGES_DIR = "images"
OTHER_SIZE = (640, 480)  # folders without size metadata (gqa, ocr_vqa, textvqa)
# How many images of each defect a corpus gets (fewer when it has fewer images).
DEFECTS = {
    "missing": 3,
    "empty": 2,
    "truncated": 2,
    "gif_as_jpg": 1,
    "png_as_jpg": 1,
    "size_mismatch": 1,
    "cmyk": 1,
}


def _vg_path(meta: dict) -> str:
    folder, name = meta["url"].rsplit("/", 2)[-2:]
    return f"vg/{folder}/{name}"


def _encode(fmt: str, size: tuple[int, int], mode: str = "RGB", frames: int = 1) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    colour = (96, 128, 160) if mode == "RGB" else (40, 20, 0, 10)
    image = Image.new(mode, size, colour)
    if frames > 1:
        second = Image.new(mode, size, (160, 128, 96))
        image.save(out, fmt, save_all=True, append_images=[second], duration=100, loop=0)
    else:
        image.save(out, fmt, quality=50)
    return out.getvalue()


def corpus_image_sizes(corpus: Path) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Every image path the corpus's records name -> the size its metadata gives (or OTHER_SIZE),
    and the paths of the Visual Genome images that image_data.json lists and records name."""
    sizes: dict[str, tuple[int, int]] = {}
    metas = json.loads((corpus / "raw/annotations/vg/image_data.json").read_text())
    vg = {_vg_path(m): (m["width"], m["height"]) for m in metas}
    coco_file = corpus / "raw/annotations/coco/captions_train2017.json"
    coco = {}
    if coco_file.is_file():
        coco = {
            f"coco/train2017/{i['file_name']}": (i["width"], i["height"])
            for i in json.loads(coco_file.read_text())["images"]
        }
    named = set(vg)
    for path in sorted((corpus / "llava").glob("*.json")) + sorted((corpus / "format").rglob("*.json")):
        named |= {r["image"] for r in json.loads(path.read_text()) if isinstance(r.get("image"), str)}
    for path in sorted(named):
        sizes[path] = vg.get(path) or coco.get(path) or OTHER_SIZE
    return sizes, sorted(set(vg) & named)


def write_images(corpus: Path, seed: int, out: Path | None = None) -> dict:
    """Write the image files of `corpus` under `out` (default `<corpus>/images/`); the ground
    truth of what was written (also as `IMAGES_TRUTH.json` there)."""
    root = out or corpus / IMAGES_DIR
    # What an earlier run wrote would hide this run's missing files.
    shutil.rmtree(root, ignore_errors=True)
    sizes, candidates = corpus_image_sizes(corpus)
    rng = stream(seed, "images")
    rng.shuffle(candidates)
    defects: dict[str, list[str]] = {}
    for kind, n in DEFECTS.items():
        defects[kind] = sorted(candidates[:n])
        candidates = candidates[n:]
    kind_of = {path: kind for kind, paths in defects.items() for path in paths}
    cache: dict[tuple, bytes] = {}

    def encoded(*key) -> bytes:
        if key not in cache:
            cache[key] = _encode(*key)
        return cache[key]

    written = 0
    for path, size in sizes.items():
        kind = kind_of.get(path)
        if kind == "missing":
            continue
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "empty":
            data = b""
        elif kind == "truncated":
            whole = encoded("JPEG", size)
            data = whole[: len(whole) // 2]
        elif kind == "gif_as_jpg":
            data = encoded("GIF", size, "RGB", 2)
        elif kind == "png_as_jpg":
            data = encoded("PNG", size)
        elif kind == "size_mismatch":
            data = encoded("JPEG", (size[0] // 2, size[1] // 2))
        elif kind == "cmyk":
            data = encoded("JPEG", size, "CMYK")
        else:
            data = encoded("JPEG", size)
        target.write_bytes(data)
        written += 1
    truth = {"root": IMAGES_DIR, "paths": len(sizes), "files_written": written, "defects": defects}
    text = json.dumps(truth, sort_keys=True, indent=2) + "\n"
    tmp = root / "IMAGES_TRUTH.json.part"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, root / "IMAGES_TRUTH.json")
    return truth
