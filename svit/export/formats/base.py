"""What every export format shares: its options, its container (JSON array or lines) and the
Polars pieces the adapters are made of.

An adapter turns a Polars frame of records (the columns of svit/export/records.py) into one
string per record, each starting with the separator that goes before it; the writer puts the
container's head and tail around them and drops the first record's separator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from svit.core.errors import SvitError

IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"


@dataclass(frozen=True)
class Options:
    """The options of `svit export` that shape a file; each format says which apply."""

    indent: int | None = None
    ensure_ascii: bool = False
    dataset_name: str | None = None
    image_root: str | None = None
    lengths: str | None = None  # F[:TOKENIZER]: the counts of `svit tokens` a `length` key is written from

    def given(self) -> dict[str, str]:
        """The options set to something other than their default: option name -> its CLI spelling."""
        given = {}
        if self.indent is not None:
            given["indent"] = "--indent"
        if self.ensure_ascii:
            given["ensure_ascii"] = "--ascii"
        if self.dataset_name is not None:
            given["dataset_name"] = "--dataset-name"
        if self.image_root is not None:
            given["image_root"] = "--image-root"
        if self.lengths is not None:
            given["lengths"] = "--lengths"
        return given


@dataclass(frozen=True)
class Container:
    """What stands around and between the records of a file."""

    head: str  # before the first record
    sep: str  # before every record but the first
    tail: str  # after the last record
    empty: str  # the whole file when there is no record

    @classmethod
    def array(cls, open_items: str = "", close_items: str = "", sep: str = ", ") -> Container:
        return cls("[" + open_items, sep, close_items + "]", "[]")

    @classmethod
    def lines(cls) -> Container:
        return cls("", "\n", "\n", "")


@dataclass
class Batch:
    """What an adapter sees of one batch: its records and the settings of the export."""

    frame: pl.DataFrame
    options: Options
    sep: str
    python: bool = False  # rendered by json.dumps (Format.python_path)


@dataclass
class Problems:
    """Records a format cannot write as they are (the export stops) or writes without something
    (the export says so): reason -> (count, first ids)."""

    errors: dict[str, list] = field(default_factory=dict)
    notes: dict[str, list] = field(default_factory=dict)
    # What the records held that a side file must say (a ShareGPT file's keys, videos).
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, kind: str, reason: str, ids: pl.Series) -> None:
        if ids.len():
            entry = getattr(self, kind).setdefault(reason, [0, []])
            entry[0] += ids.len()
            entry[1].extend(ids.head(5 - len(entry[1])).to_list())

    def merge(self, other: Problems) -> None:
        """Add another batch's problems (the first ids kept)."""
        for key, value in other.facts.items():  # a fact any batch found holds for the file
            self.facts[key] = self.facts.get(key) or value
        for kind in ("errors", "notes"):
            for reason, (n, ids) in getattr(other, kind).items():
                entry = getattr(self, kind).setdefault(reason, [0, []])
                entry[0] += n
                entry[1].extend(ids[: 5 - len(entry[1])])

    @staticmethod
    def lines(entries: dict[str, list]) -> list[str]:
        """One line per reason: `records with ...: 3 (ids: "a", "b", "c")`."""
        lines = []
        for reason, (n, ids) in entries.items():
            shown = ", ".join(json.dumps(i, ensure_ascii=True) for i in ids) + (", ..." if n > len(ids) else "")
            lines.append(f"{reason}: {n:,} (ids: {shown})")
        return lines


class Format:
    """One output format. Subclasses set the attributes and write `render`."""

    name: str = ""
    summary: str = ""  # one line for --help and the docs
    options: frozenset[str] = frozenset({"ensure_ascii"})  # the Options fields that apply
    needs_sizes: bool = False  # records carry width/height (svit/export/records.py: image_sizes)
    uses_id_json: bool = True  # reads the id as JSON (`id_json`), not only as text (`id`)
    lines_only: bool = False  # JSON lines whatever --out is called
    array_or_lines: bool = False  # JSON lines when --out ends in .jsonl, else a JSON array

    def check(self, options: Options, out: Path) -> None:
        """Refuse options that do not apply to this format, an `--out` it cannot be, and a side
        file it could not update (before anything is written)."""
        for name, spelling in options.given().items():
            if name not in self.options:
                raise SvitError(f"{spelling} does not apply to --format {self.name}")
        for name in ("dataset_name", "image_root"):
            if getattr(options, name) == "":
                raise SvitError(f"{options.given()[name]} must not be empty")
        if self.lines_only and out.suffix != ".jsonl":
            raise SvitError(f"--format {self.name} writes JSON lines: give --out a .jsonl name (its trainer asks)")

    def container(self, options: Options, out: Path) -> Container:
        if self.lines_only or (self.array_or_lines and out.suffix == ".jsonl"):
            return Container.lines()
        return Container.array()

    def python_path(self, extras: tuple[frozenset[str], bool, bool]) -> bool:
        """Whether records are rendered with Python's json: given the extra keys records have,
        whether some turn has extra keys, and whether some record names its media otherwise
        than by one `image` string (several images, a video, a ShareGPT or TRL file's keys:
        `media`, `layout`)."""
        return extras[2]

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        raise NotImplementedError

    def side_files(self, out: Path, records: int, options: Options, facts: dict | None = None) -> list[Path]:
        """Files written beside the export (a dataset registry); their paths. `facts`: what the
        records held that the registry must say (Problems.facts)."""
        return []


# --------------------------------------------------------------------------- Polars pieces


def encode(*fields: pl.Expr, **named: pl.Expr) -> pl.Expr:
    """The struct of these fields as compact JSON text, keys in this order (Polars writes
    strings escaped as json.dumps escapes them with ensure_ascii=False)."""
    return pl.struct(*fields, **named).struct.json_encode()


def json_value(value: pl.Expr) -> pl.Expr:
    """The JSON text of each value (`"a \\"b\\""`, `12`, `null`), as Polars encodes it in a struct."""
    return pl.struct(value.alias("v")).struct.json_encode().str.slice(5).str.head(-1)  # {"v":...}


def replace_tokens(text: pl.Expr, tokens: dict[str, str]) -> pl.Expr:
    """Replace structural pieces of JSON text (leftmost, the first listed winning a tie).

    A piece is only safe to replace when it cannot occur inside a string value: every piece
    here holds a quote standing after `{`, `[` or `,` and followed by a key name, which in a
    string value would be escaped (`\\"`).
    """
    return text.str.replace_many(list(tokens), list(tokens.values()), leftmost=True)


def with_sep(text: pl.Expr, sep: str) -> pl.Expr:
    return pl.concat_str(pl.lit(sep), text) if sep else text


def images_list() -> pl.Expr:
    """The record's images as a list (empty for a text-only record)."""
    return pl.when(pl.col("has_image")).then(pl.concat_list(pl.col("image"))).otherwise(pl.lit([], pl.List(pl.String)))


def turn_field(name: str) -> pl.Expr:
    return pl.element().struct.field(name)


def with_token_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with `tokens` (`<image>` tokens in all turns) and `question_tokens` (in the
    `human` turns), the text searched once."""
    per_turn = pl.struct(
        n=turn_field("value").str.count_matches(IMAGE_TOKEN, literal=True).fill_null(0),
        question=turn_field("from") == "human",
    )
    counted = frame.with_columns(pl.col("conversations").list.eval(per_turn).alias("_tokens"))
    field = pl.element().struct.field
    return counted.with_columns(
        pl.col("_tokens").list.eval(field("n")).list.sum().alias("tokens"),
        pl.col("_tokens").list.eval(field("n") * field("question").cast(pl.UInt32)).list.sum().alias("question_tokens"),
    ).drop("_tokens")


def images_count() -> pl.Expr:
    return pl.col("has_image").cast(pl.UInt32)


def with_turns(sep: str, head: pl.Expr, key: str = "conversations", turns: pl.Expr | None = None) -> pl.Expr:
    """A record's text: `sep`, `head` (the compact JSON of its first keys, up to and including
    the comma after them, or just `{`), then `"<key>":` and the turns as compact JSON.

    The turns are nearly all of a record's text: encoded on their own, they need no search
    for pieces to replace.
    """
    turns = plain_turns() if turns is None else turns
    wrapped = pl.struct(turns.alias(key)).struct.json_encode()  # {"<key>":[...]}
    return pl.concat_str(pl.lit(sep), head, pl.lit(f'"{key}":'), wrapped.str.slice(len(key) + 4))


def plain_turns() -> pl.Expr:
    """The turns as {from, value} (svit/export/run.py leaves the turns' extra keys, which no
    trainer reads, only to the records json.dumps writes)."""
    return pl.col("conversations")


# --------------------------------------------------------------------------- --ascii

_ESCAPE = re.compile(rb"\\(\\|x[0-9a-f]{2}|U[0-9a-f]{8})")


def to_ascii(data) -> bytes:
    """JSON text (as json.dumps writes it with ensure_ascii=False) as json.dumps writes it with
    ensure_ascii=True: every non-ASCII character, and DEL, as \\uXXXX (surrogate pairs above U+FFFF)."""
    raw = bytes(data)
    if raw.isascii():
        return raw.replace(b"\x7f", b"\\u007f")
    text = raw.decode("utf-8").encode("ascii", "backslashreplace").replace(b"\x7f", b"\\u007f")
    return _ESCAPE.sub(_escape, text)


def _escape(m: re.Match) -> bytes:
    token = m.group(1)
    if token == b"\\":
        return b"\\\\"  # an escaped backslash of the text, left as it is
    if token[:1] == b"x":
        return b"\\u00" + token[1:]
    cp = int(token[1:], 16) - 0x10000
    return b"\\u%04x\\u%04x" % (0xD800 | (cp >> 10), 0xDC00 | (cp & 0x3FF))


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def compact(obj) -> str:
    """JSON without spaces, as Polars' encoder writes it (the formats of JSON lines)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- records by json.dumps


@dataclass
class Record:
    """One record as the Python path sees it (Format.python_path): the id as JSON, its images
    and videos whichever way the record wrote them, the media keys as written, its file's
    layout (ShareGPT / TRL), extra keys and turns (with their extra keys)."""

    id: object
    images: list[str]
    videos: list[str]
    media: dict | None  # the media keys as the record wrote them; None for one `image` string or none
    layout: dict | None
    extra: dict
    turns: list[dict]  # {from, value, ...extra}
    row: dict  # the frame's row, for format-specific columns (width, height, length)

    def marks(self, token: str, role: str | None = None) -> int:
        return sum(t["value"].count(token) for t in self.turns if role is None or t["from"] == role)

    def llava_media(self) -> dict:
        """The media keys as LLaVA-NeXT writes them: `image` and `video`, a string for one."""
        if self.media is not None and set(self.media) <= {"image", "video"}:
            return dict(self.media)
        keys = {}
        for key, paths in (("image", self.images), ("video", self.videos)):
            if paths:
                keys[key] = paths[0] if len(paths) == 1 else paths
        return keys


def content_parts(text: str) -> list[dict]:
    """A turn's text as TRL content parts, cut at each `<image>` as the Polars path cuts it
    (svit/export/formats/messages.py: content_parts)."""
    pieces = text.split(IMAGE_TOKEN)
    parts: list[dict] = []
    for i, piece in enumerate(pieces):
        if i > 0:
            parts.append({"type": "image"})
            piece = piece.removeprefix("\n")
        if i < len(pieces) - 1 and piece.endswith("\n"):
            piece = piece[:-1]
        if piece != "" or len(pieces) == 1:
            parts.append({"type": "text", "text": piece})
    return parts


def turn_extra(turn: dict) -> dict:
    """A turn's keys besides `from` and `value`."""
    return {k: v for k, v in turn.items() if k not in ("from", "value")}


def system_turn(record: dict, layout: dict) -> list[dict]:
    """The system turn a ShareGPT or TRL record began with (kept as its `system` key, which it
    leaves `record`), as a list of it or of nothing, spelt as the file spelt it."""
    form = layout.get("system")
    if not form or "system" not in record:
        return []
    text = record.pop("system")
    return [{layout["role"]: "system", layout["text"]: content_parts(text) if form == "parts" else text}]


def python_records(df: pl.DataFrame) -> list[Record]:
    """The frame's records for a Python path."""
    records = []
    parsed: dict[str, dict] = {}
    for row in df.iter_rows(named=True):
        media = json.loads(row["media"]) if row.get("media") else None
        layout = row.get("layout")
        if layout and layout not in parsed:
            parsed[layout] = json.loads(layout)
        images, videos = [], []
        if media is None:
            images = [row["image"]] if row["has_image"] and row["image"] is not None else []
        else:
            for key, into in (("image", images), ("images", images), ("video", videos), ("videos", videos)):
                value = media.get(key)
                if value is not None:
                    into.extend([value] if isinstance(value, str) else value)
        turns = [
            {"from": t["from"], "value": t["value"], **(json.loads(t["extra"]) if t.get("extra") else {})}
            for t in row["conversations"]
        ]
        records.append(
            Record(
                json.loads(row["id_json"]),
                images,
                videos,
                media,
                parsed.get(layout) if layout else None,
                json.loads(row["extra"]) if row.get("extra") else {},
                turns,
                row,
            )
        )
    return records


def add_problems(problems: Problems, kind: str, reason: str, records: list[Record]) -> None:
    """`records` (found by a Python path) under `reason`, by their ids as text."""
    ids = [r.id if isinstance(r.id, str) else str(r.id) for r in records]
    problems.add(kind, reason, pl.Series("id", ids, pl.String))
