"""BAAI's published conversion of SVIT's original files into LLaVA-1.5 records, in Python.

This is the reference the SQL models are checked against (docs/formats.md, "From SVIT's
original JSON to BAAI's LLaVA files"):

1. one LLaVA record per original conversation block; ``user`` becomes ``human``;
2. ``<image>\\n`` is prefixed to the first human turn;
3. referring QAs: ``<st>``/``<ed>`` are removed and an instruction is appended to the
   question, joined by one space;
4. referring boxes are moved onto the image padded to a square, the way BAAI's
   ``tools/expand_to_square.py`` does it (Python ``round``, Python float printing,
   sequential ``str.replace``).

Extra keys on a block (``topic`` and the like) do not reach the LLaVA record: the record
has exactly ``id``, ``image`` and ``conversations``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from svit.core.facts import IMAGE_TOKEN, PHRASE_END, PHRASE_START

# A box as BAAI's tool matches it: four unsigned decimals, ", "-separated, in brackets.
BOX_PATTERN = re.compile(r"\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]")

REFERRING_TASK = "referring_qa"
_ROLE_TO_LLAVA = {"user": "human", "gpt": "gpt"}


def expand_box_to_square(box: tuple[float, float, float, float], width: int, height: int) -> list[float]:
    """One [x1, y1, x2, y2] box (0..1 of the original image) as 0..1 of the padded square."""
    x1, y1, x2, y2 = box
    px = [round(x1 * width), round(y1 * height), round(x2 * width), round(y2 * height)]
    if width > height:
        shift = (width - height) // 2
        px[1] += shift
        px[3] += shift
    elif height > width:
        shift = (height - width) // 2
        px[0] += shift
        px[2] += shift
    side = max(width, height)
    return [round(p / side, 3) for p in px]


def format_box(box: list[float]) -> str:
    """A box printed the way Python prints a list of floats: ``[0.526, 0.239, 0.625, 0.662]``."""
    return "[" + ", ".join(str(float(v)) for v in box) + "]"


def expand_box_text_to_square(text: str, width: int, height: int) -> str:
    """Every box in ``text`` moved onto the padded square image, exactly as BAAI's tool does.

    The matches are collected from the original text first; then, in order, each matched
    string is replaced by its converted form with ``str.replace``, which replaces ALL its
    occurrences in the current text. So a box written twice is converted once (both
    copies), and a converted box that happens to equal a later original box is converted
    a second time. Both follow from BAAI's code and are kept on purpose.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    for match in BOX_PATTERN.findall(text):
        values = tuple(float(v) for v in match[1:-1].split(", "))
        text = text.replace(match, format_box(expand_box_to_square(values, width, height)))
    return text


def strip_phrase_marks(text: str) -> str:
    """The text without the ``<st>`` and ``<ed>`` phrase marks (the phrase itself stays)."""
    return text.replace(PHRASE_START, "").replace(PHRASE_END, "")


def image_path(folder: str, image_id: int) -> str:
    """The LLaVA ``image`` value of a Visual Genome image: ``vg/<folder>/<id>.jpg``."""
    return f"vg/{folder}/{image_id}.jpg"


def to_llava_record(
    task: str,
    image_id: int,
    block_index: int,
    block: dict,
    image_path: str,
    width: int,
    height: int,
    instruction_for: Callable[[int], str] | None,
    record_id: str,
) -> dict:
    """One original conversation block as a LLaVA-1.5 record ``{"id", "image", "conversations"}``.

    ``instruction_for(turn_index)`` gives the instruction for a referring question (turn
    index within the block, 0-based); it is called for EVERY human turn of a referring
    block (SVIT's referring blocks hold one QA pair, so that is the question). It must be
    given for ``referring_qa`` and is ignored for the other tasks.
    """
    content = block.get("content")
    if not isinstance(content, list) or not content:
        raise ValueError(f"{task} image {image_id} block {block_index}: no 'content' turns")
    referring = task == REFERRING_TASK
    if referring and instruction_for is None:
        raise ValueError(f"{task} image {image_id} block {block_index}: a referring record needs instruction_for")
    turns = []
    first_human = True
    for turn_index, turn in enumerate(content):
        role = _ROLE_TO_LLAVA.get(turn.get("from"))
        if role is None:
            raise ValueError(
                f"{task} image {image_id} block {block_index} turn {turn_index}: unknown role {turn.get('from')!r}"
            )
        value = turn["value"]
        if referring:
            value = expand_box_text_to_square(strip_phrase_marks(value), width, height)
            if role == "human":
                value = value + " " + instruction_for(turn_index)
        if role == "human" and first_human:
            value = IMAGE_TOKEN + "\n" + value
            first_human = False
        turns.append({"from": role, "value": value})
    return {"id": record_id, "image": image_path, "conversations": turns}
