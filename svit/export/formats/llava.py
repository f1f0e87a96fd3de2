"""`llava` (one JSON array, as LLaVA's `json.load` reads it) and `jsonl` (one record per line):
the records exactly as `json.dump(records, f, ensure_ascii=False[, indent=N])` writes them.

Keys in LLaVA's order: `id`, `image` (absent for a text-only record), the record's extra
keys (LLaVA-1.5's mix has `model` on some), `conversations`; turns: `from`, `value`, extra keys.

Polars writes each record as compact JSON (`{"id":"a","image":...}`), escaped as json.dumps
escapes; then the pieces between keys are replaced by json.dumps's (`", "`, `": "`, and the
newlines and indentation of `--indent`). Records with extra keys are written by json.dumps
itself: their values may be numbers or nested objects, printed as Python prints them.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from svit.export.formats.base import Batch, Container, Format, Options, Problems, encode, replace_tokens
from svit.export.layout import Layout


def record_tokens(layout: Layout, id_inside: bool) -> dict[str, str]:
    """Compact JSON piece -> json.dumps's, for the records Polars encodes.

    With `id_inside` the encoded struct is {id, image, conversations} (string ids); else
    {image, conversations}, the id being put in front separately (integer ids).
    """
    L = layout
    conversations = L.sep(2) + '"conversations": '
    first_turn = "[" + L.open(3) + "{" + L.open(4) + '"from": '
    no_turns = "[]" + L.close(1) + "}"
    # What comes before `image` or `conversations`: the end of the id string, or the struct's start.
    start = '","' if id_inside else '{"'
    kept = '"' if id_inside else ""
    tokens = {
        start + 'image":null,"conversations":[]}': kept + conversations + no_turns,
        start + 'image":null,"conversations":[{"from":': kept + conversations + first_turn,
        start + 'image":': kept + L.sep(2) + '"image": ',
        '","conversations":[]}': '"' + conversations + no_turns,
        '","conversations":[{"from":': '"' + conversations + first_turn,
        ',"value":': L.sep(4) + '"value": ',
        '},{"from":': L.close(3) + "}" + L.sep(3) + "{" + L.open(4) + '"from": ',
    }
    if id_inside:
        tokens = {'{"id":': "{" + L.open(2) + '"id": ', **tokens}
    return tokens


class Llava(Format):
    name = "llava"
    summary = "one JSON array, as LLaVA loads it (json.dump's layout, --indent N)"
    options = frozenset({"indent", "ensure_ascii"})

    def layout(self, options: Options) -> Layout:
        return Layout(options.indent if self.name == "llava" else None)

    def container(self, options: Options, out: Path) -> Container:
        L = self.layout(options)
        return Container.array(L.open(1), L.close(0), "," + L.open(1) if L.indent is not None else ", ")

    def python_path(self, extras: tuple[bool, bool]) -> bool:
        return any(extras)

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        df, L = batch.frame, self.layout(batch.options)
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(df, L)], pl.String)
        id_inside = bool(df["id_json"].str.starts_with('"').all())  # integer ids are put in front
        image = pl.when(pl.col("has_image")).then(pl.col("image"))
        conversations = pl.col("conversations").list.eval(pl.struct(pl.element().struct.field("from", "value")))
        if id_inside:
            text = replace_tokens(encode(pl.col("id"), image=image, conversations=conversations), record_tokens(L, True))
            text = pl.concat_str(pl.lit(batch.sep), text) if batch.sep else text
        else:
            body = replace_tokens(encode(image=image, conversations=conversations), record_tokens(L, False))
            text = pl.concat_str(pl.lit(batch.sep + "{" + L.open(2) + '"id": '), pl.col("id_json"), body)
        if L.indent is not None:
            # The last turn, its list and the record close on lines of their own.
            end = L.close(3) + "}" + L.close(2) + "]" + L.close(1) + "}"
            text = pl.when(text.str.ends_with("}]}")).then(pl.concat_str(text.str.head(-3), pl.lit(end))).otherwise(text)
        return df.select(text.alias("text")).to_series()

    def render_python(self, df: pl.DataFrame, L: Layout) -> list[str]:
        """Each record as json.dumps writes it, standing at level 1 of the array."""
        texts = []
        for row in df.select("id_json", "has_image", "image", "extra", "conversations").iter_rows():
            id_json, has_image, image, extra, turns = row
            record = {"id": json.loads(id_json)}
            if has_image:
                record["image"] = image
            if extra:
                record.update(json.loads(extra))
            record["conversations"] = [
                {"from": t["from"], "value": t["value"], **(json.loads(t["extra"]) if t.get("extra") else {})}
                for t in turns
            ]
            text = json.dumps(record, ensure_ascii=False, indent=L.indent)
            texts.append(text if L.indent is None else text.replace("\n", L.open(1)))
        return texts


class Jsonl(Llava):
    name = "jsonl"
    summary = "one LLaVA record per line (json.dumps of each record)"
    options = frozenset({"ensure_ascii"})

    def container(self, options: Options, out: Path) -> Container:
        return Container.lines()

