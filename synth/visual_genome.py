"""Synthetic Visual Genome and COCO metadata: image_data, objects, regions, captions.

Image 1 is VG image 1 as published (800x600, VG_100K_2, its clock). Other images: ids
increasing with gaps (and, past 60% of the list, a jump to the 2.3M range as in VG),
mostly landscape, long side usually 500 or 800, urls in VG_100K (~60%) or VG_100K_2,
about half with a COCO id. Objects come in groups of 1-3 instances of one name; a
referring phrase names a group and lists its boxes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from svit.core.facts import VG_FOLDERS
from synth import golden
from synth.seeds import stream
from synth.text import COLORS, OBJECTS, POSITIONS, PREPOSITIONS

URL_PREFIX = "https://cs.stanford.edu/people/rak248/"
COCO_URL_PREFIX = "http://images.cocodataset.org/train2017/"
# Id ranges of our own for synthetic objects, regions and captions (unique per image index).
_OBJECT_ID_BASE = 3_000_000
_REGION_ID_BASE = 7_000_000
_CAPTION_ID_BASE = 100_000
_PER_IMAGE = 40


@dataclass(frozen=True)
class ObjectGroup:
    """Instances of one object name in an image, with their boxes as SVIT writes them."""

    phrase: str  # singular for one instance, plural for several
    boxes: tuple[str, ...]  # "[x1, y1, x2, y2]" normalised to the original image, 3 decimals

    @property
    def mark(self) -> str:
        """The referring mark: ``<st>phrase<ed> [..], [..]``."""
        return "<st>" + self.phrase + "<ed> " + ", ".join(self.boxes)


def folder_of(url: str) -> str:
    """VG_100K or VG_100K_2, read from an image_data url."""
    return url.rsplit("/", 2)[-2]


def normalised_box(x: int, y: int, w: int, h: int, width: int, height: int) -> str:
    """A VG pixel box as SVIT's text: ``[round(x/W,3), round(y/H,3), round((x+w)/W,3), round((y+h)/H,3)]``."""
    return f"[{round(x / width, 3)}, {round(y / height, 3)}, {round((x + w) / width, 3)}, {round((y + h) / height, 3)}]"


def _size(rng: random.Random) -> tuple[int, int]:
    shape = rng.random()
    r = rng.random()
    long_side = 800 if r < 0.5 else 500 if r < 0.85 else rng.randint(300, 1280)
    if shape < 0.08:
        return long_side, long_side
    short = max(200, min(long_side, round(long_side * rng.uniform(0.5, 0.9))))
    return (long_side, short) if shape < 0.78 else (short, long_side)


def image_data(images: int, seed: int) -> list[dict]:
    """The image_data.json entries, image 1 first."""
    rng = stream(seed, "image_data")
    entries = [dict(golden.VG_IMAGE_1)]
    used_coco: set[int] = set()
    image_id = 1
    jump_at = int(images * 0.6) if images >= 10 else -1
    for position in range(1, images):
        if position == jump_at:
            image_id = 2_315_000 + rng.randint(0, 500)
        else:
            g = rng.random()
            image_id += 1 + (0 if g < 0.85 else rng.randint(1, 5) if g < 0.97 else rng.randint(6, 300))
        width, height = _size(rng)
        folder = VG_FOLDERS[0] if rng.random() < 0.6 else VG_FOLDERS[1]
        coco_id = None
        if rng.random() < 0.5:
            coco_id = rng.randint(9, 581_929)
            while coco_id in used_coco:
                coco_id = rng.randint(9, 581_929)
            used_coco.add(coco_id)
        flickr_id = rng.randint(10_000_000, 9_999_999_999) if rng.random() < 0.6 else None
        entries.append(
            {
                "image_id": image_id,
                "url": f"{URL_PREFIX}{folder}/{image_id}.jpg",
                "width": width,
                "height": height,
                "coco_id": coco_id,
                "flickr_id": flickr_id,
            }
        )
    return entries


def _span(rng: random.Random, side: int) -> tuple[int, int]:
    """Start and length of a box edge on a side of ``side`` pixels; ~8% touch each border."""
    length = rng.randint(max(1, side // 20), max(1, int(side * 0.6)))
    r = rng.random()
    start = 0 if r < 0.08 else side - length if r < 0.16 else rng.randint(0, side - length)
    return start, length


@dataclass(frozen=True)
class ImageAnnotations:
    objects: dict  # objects.json item
    regions: dict  # region_descriptions.json item
    groups: tuple[ObjectGroup, ...]


def annotate(seed: int, position: int, meta: dict) -> ImageAnnotations:
    """Objects, regions and referring groups of one image (a pure function of its inputs)."""
    rng = stream(seed, "objects", meta["image_id"])
    width, height, image_id = meta["width"], meta["height"], meta["image_id"]
    objects: list[dict] = []
    groups: list[ObjectGroup] = []
    next_id = _OBJECT_ID_BASE + position * _PER_IMAGE
    if image_id == 1:
        for obj in (golden.VG_IMAGE_1_CLOCK, golden.VG_IMAGE_1_SIGN):
            objects.append(dict(obj))
            groups.append(
                ObjectGroup(obj["names"][0], (normalised_box(obj["x"], obj["y"], obj["w"], obj["h"], width, height),))
            )
    for singular, plural in rng.sample(OBJECTS, rng.randint(3, 9)):
        r = rng.random()
        count = 1 if r < 0.7 else 2 if r < 0.9 else 3
        boxes = []
        for _ in range(count):
            x, w = _span(rng, width)
            y, h = _span(rng, height)
            objects.append(
                {
                    "object_id": next_id,
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                    "names": [singular],
                    "synsets": [singular.replace(" ", "_") + ".n.01"],
                }
            )
            next_id += 1
            boxes.append(normalised_box(x, y, w, h, width, height))
        groups.append(ObjectGroup(singular if count == 1 else plural, tuple(boxes)))
    regions = []
    if image_id == 1:
        regions.append(dict(golden.VG_IMAGE_1_CLOCK_REGION))
    region_id = _REGION_ID_BASE + position * _PER_IMAGE
    for k in range(rng.randint(3, 8)):
        obj = objects[int(rng.random() * len(objects))]
        name = obj["names"][0]
        regions.append(
            {
                "region_id": region_id + k,
                "image_id": image_id,
                "phrase": f"{rng.choice(COLORS)} {name} {rng.choice(PREPOSITIONS)} the {rng.choice(OBJECTS)[0]}",
                "x": obj["x"],
                "y": obj["y"],
                "width": obj["w"],
                "height": obj["h"],
            }
        )
    return ImageAnnotations(
        objects={"image_id": image_id, "objects": objects},
        regions={"id": image_id, "regions": regions},
        groups=tuple(groups),
    )


def coco_entries(seed: int, position: int, meta: dict) -> tuple[dict, list[dict]]:
    """The COCO captions_train2017 image entry and its 5 caption annotations."""
    rng = stream(seed, "coco", meta["image_id"])
    coco_id = meta["coco_id"]
    file_name = f"{coco_id:012d}.jpg"
    image = {
        "license": rng.randint(1, 8),
        "file_name": file_name,
        "coco_url": COCO_URL_PREFIX + file_name,
        "height": meta["height"],
        "width": meta["width"],
        "date_captured": f"2013-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        "id": coco_id,
    }
    annotations = []
    for k in range(5):
        (name, _), (other, _) = rng.choice(OBJECTS), rng.choice(OBJECTS)
        caption = f"A {rng.choice(COLORS)} {name} {rng.choice(PREPOSITIONS)} a {other} {rng.choice(POSITIONS)}."
        annotations.append({"image_id": coco_id, "id": _CAPTION_ID_BASE + position * 8 + k, "caption": caption})
    return image, annotations
