"""The record shapes besides LLaVA's that a `--llava` file may be in, and how each maps onto a
LLaVA record (docs/warehouse.md, "Other shapes").

- `sharegpt`: LLaMA-Factory's ShareGPT records: turns under `conversations` or `messages`,
  spelt `from`/`value` with human/gpt or `role`/`content` with user/assistant; media in
  `images` and `videos` lists (absent, null or empty: none); no id needed.
- `messages`: TRL's vision records: `messages` whose `content` is a list of parts
  (`{"type": "image"}`, `{"type": "text", "text": ...}`), media in `images`.

The shape is told by a file's first records (`detect`). A record of either becomes the
LLaVA record ingest/llava.py reads (turns human/gpt with a
`value`, `image` / `video` as LLaVA writes them, the other keys as they are), plus what
writing it back in its own shape needs: its media keys as written and its `layout` (the
keys and role names of the file, and whether it had an id). A record that does not map says
why, and is rejected with its own JSON.

LLaVA-shaped files (JSON arrays or lines of `{id, image, video, conversations}`, InternVL's
and Qwen's records included) are read by SQL alone; these shapes go through Python's json,
record by record: they are smaller files, and their turns need rewriting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from svit.core.facts import LLAVA_FILE_SHAPES

IMAGE_MARK = "<image>"
SYSTEM = "system"  # the role name of a system turn, in every spelling (LLaMA-Factory's, TRL's)


@dataclass(frozen=True)
class Layout:
    """How a file spells its records: kept with each record to write it back the same way."""

    format: str  # sharegpt or messages
    turns: str  # the key of the turns: conversations or messages
    role: str  # a turn's role key: from or role
    text: str  # a turn's text key: value or content
    human: str  # the role names: human/gpt or user/assistant
    gpt: str
    id: bool = True  # the record has an id
    # The record began with a system turn, now its `system` key: "text" (a string), "parts"
    # (TRL content parts), "" (none).
    system: str = ""

    def as_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


SHAPES = LLAVA_FILE_SHAPES  # what `svit ingest --format` can name


def detect(first: list, shape: str = "") -> Layout | None:
    """The layout of a file whose first records are `first`, or None for LLaVA's own shape.
    The keys of all of them count (a ShareGPT file may begin with text-only records that have
    no `images`); the first turn of the first record with one tells the spelling. A `shape`
    named by the user (SHAPES) decides the format; the records still tell the spelling."""
    if shape == "llava":
        return None
    records = [r for r in first if isinstance(r, dict)]
    keys = {k for r in records for k in r}
    key = "messages" if "messages" in keys else "conversations"
    # A system turn says nothing of the role names: the first turn after it does.
    turns = (t for r in records if isinstance(r.get(key), list) for t in r[key] if isinstance(t, dict))
    turn = next((t for t in turns if SYSTEM not in (t.get("role"), t.get("from"))), {})
    role, text = ("role", "content") if "role" in turn or "content" in turn else ("from", "value")
    media = "images" in keys or "videos" in keys
    if not (media or key == "messages" or role == "role" or shape):
        return None  # LLaVA's shape (InternVL's and Qwen's records too)
    if shape == "messages":  # TRL: always `messages` of role/content parts, user/assistant
        return Layout("messages", "messages", "role", "content", "user", "assistant")
    named = turn.get(role)
    human, gpt = ("user", "assistant") if named in ("user", "assistant") else ("human", "gpt")
    parts = isinstance(turn.get(text), list)
    return Layout(shape or ("messages" if parts else "sharegpt"), key, role, text, human, gpt)


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _media(record: dict, key: str) -> tuple[list[str], str | None]:
    """The paths under `key` (absent, null or [] is none; a string is one), or why not."""
    value = record.get(key)
    if value is None:
        return [], None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return [], f'"{key}" is {_kind(value)}, not a string or a list of strings'
    for i, item in enumerate(items):
        if not isinstance(item, str):
            return [], f'"{key}" item {i} is {_kind(item)}, not a string'
    return items, None


def _part_text(parts: object, k: int) -> tuple[str | None, str | None]:
    """TRL content parts as one text: each image part an `<image>` mark, the parts joined by
    newlines, which is what `svit export --format messages` cuts back into the same parts."""
    at = f"turn {k}: "
    if not isinstance(parts, list) or not parts:
        return None, at + "content is not a non-empty list of parts"
    pieces = []
    for i, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image" and set(part) == {"type"}:
            pieces.append(IMAGE_MARK)
        elif kind == "text" and set(part) == {"type", "text"} and isinstance(part["text"], str):
            if pieces and pieces[-1] != IMAGE_MARK:
                return None, at + "two text parts in a row"
            if IMAGE_MARK in part["text"] or (part["text"] == "" and len(parts) > 1):
                return None, at + f"part {i} is text that would not come back as one part"
            pieces.append(part["text"])
        else:
            return None, at + f"part {i} is neither {{type: image}} nor {{type: text, text}}"
    return "\n".join(pieces), None


def to_llava(record: object, layout: Layout, index: int) -> tuple[dict | None, str | None, str | None]:
    """`record` (of `layout`) as a LLaVA record, its media keys as written (JSON), and why it
    cannot be read (then the first two are None)."""
    if not isinstance(record, dict):
        return None, None, f"record is {_kind(record)}, not an object"
    images, problem = _media(record, "images")
    videos, video_problem = _media(record, "videos")
    if problem or video_problem:
        return None, None, problem or video_problem
    turns = record.get(layout.turns)
    if not isinstance(turns, list):
        return None, None, f'"{layout.turns}" is missing or not a list'
    system, problem = _system_text(record, layout)
    if problem:
        return None, None, problem
    if system is not None:
        turns = turns[1:]
    roles = {layout.human: "human", layout.gpt: "gpt"}
    converted = []
    for k, turn in enumerate(turns, start=0 if system is None else 1):
        if not isinstance(turn, dict):
            return None, None, f"turn {k}: not an object"
        role = turn.get(layout.role)
        if role not in roles:
            return None, None, f'turn {k}: "{layout.role}" is {json.dumps(role)}, not {layout.human}/{layout.gpt}'
        text, problem = (
            _part_text(turn.get(layout.text), k) if layout.format == "messages" else (turn.get(layout.text), None)
        )
        if problem:
            return None, None, problem
        # Other turn keys stay with the turn; a missing or mistyped text is judged by the reader.
        rest = {key: v for key, v in turn.items() if key not in (layout.role, layout.text)}
        converted.append({"from": roles[role], "value": text, **rest})
    has_id = "id" in record
    llava: dict = {"id": record["id"] if has_id else index}
    if images:
        llava["image"] = images[0] if len(images) == 1 else images
    if videos:
        llava["video"] = videos[0] if len(videos) == 1 else videos
    skip = {"id", "images", "videos", layout.turns}
    llava.update({k: v for k, v in record.items() if k not in skip})
    if system is not None:
        llava[SYSTEM] = system  # where LLaMA-Factory's ShareGPT keeps it: a `system` column
    llava["conversations"] = converted
    written = {k: record[k] for k in ("images", "videos") if k in record}
    return llava, json.dumps(written, ensure_ascii=False, separators=(",", ":")), None


def _system_turn(record: object, layout: Layout) -> dict | None:
    """The record's first turn when it is a system turn."""
    turns = record.get(layout.turns) if isinstance(record, dict) else None
    first = turns[0] if isinstance(turns, list) and turns else None
    return first if isinstance(first, dict) and first.get(layout.role) == SYSTEM else None


def _system_text(record: dict, layout: Layout) -> tuple[str | None, str | None]:
    """The text of the record's leading system turn (None without one), or why it cannot be
    kept: it becomes the record's `system` key, written back as the turn it was."""
    turn = _system_turn(record, layout)
    if turn is None:
        return None, None
    if SYSTEM in record:
        return None, 'turn 0 is a system turn and the record has a "system" key too: one would be lost'
    if set(turn) != {layout.role, layout.text}:
        return None, f"turn 0: a system turn with other keys than {layout.role} and {layout.text}"
    content = turn[layout.text]
    if layout.format == "messages" and isinstance(content, list):
        text, problem = _part_text(content, 0)
        if problem is None and IMAGE_MARK in text:
            problem = "turn 0: a system turn with an image"
        return text, problem
    if not isinstance(content, str):
        return None, f"turn 0: a system turn whose {layout.text} is {_kind(content)}, not a string"
    return content, None


def layout_of(layout: Layout, record: object) -> str:
    """The layout JSON kept with one record (whether it had an id, and a system turn, are the
    record's own)."""
    own = {"id": isinstance(record, dict) and "id" in record}
    turn = _system_turn(record, layout)
    if turn is not None:
        own["system"] = "parts" if isinstance(turn.get(layout.text), list) else "text"
    return Layout(**{**asdict(layout), **own}).as_json()
