"""`llava` (one JSON array, as LLaVA's `json.load` reads it) and `jsonl` (one record per line):
the records exactly as `json.dump(records, f, ensure_ascii=False[, indent=N])` writes them.

Keys in LLaVA's order: `id`, `image` (absent for a text-only record), the record's extra
keys (LLaVA-1.5's mix has `model` on some), `conversations`; turns: `from`, `value`, extra keys.

Polars writes each record as compact JSON (`{"id":"a","image":...}`), escaped as json.dumps
escapes; then the pieces between keys are replaced by json.dumps's (`", "`, `": "`, and the
newlines and indentation of `--indent`). Only pieces that cannot occur inside a string are
replaced: each holds a quote that stands after `{`, `[` or `,` and opens a key, which inside a
string would be escaped (`\\"`). Extra keys are written by json.dumps, since their values
may be numbers or nested objects, printed as Python prints them: a record's extra keys once
per distinct value, put in place by Polars; records whose turns have extra keys whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from svit.export.formats.base import Batch, Container, Format, Options, Problems, encode, replace_tokens
from svit.export.layout import Layout


def head_tokens(layout: Layout, id_inside: bool) -> dict[str, str]:
    """Compact JSON piece -> json.dumps's, for a record's head: `{"id":...,"image":...}` (string
    ids, `id_inside`) or `{"image":...}` (the integer id being put in front of it)."""
    L = layout
    if id_inside:
        return {
            '{"id":': "{" + L.open(2) + '"id": ',
            '","image":null}': '"}',
            '","image":': '"' + L.sep(2) + '"image": ',
        }
    return {'{"image":null}': "}", '{"image":': L.sep(2) + '"image": '}


def turn_tokens(layout: Layout) -> dict[str, str]:
    """Compact JSON piece -> json.dumps's, in and between the turns of `conversations`."""
    L = layout
    return {
        ',"value":': L.sep(4) + '"value": ',
        '},{"from":': L.close(3) + "}" + L.sep(3) + "{" + L.open(4) + '"from": ',
        '[{"from":': "[" + L.open(3) + "{" + L.open(4) + '"from": ',
    }


class Llava(Format):
    name = "llava"
    summary = "one JSON array, as LLaVA loads it (json.dump's layout, --indent N)"
    options = frozenset({"indent", "ensure_ascii"})
    uses_id_json = False  # a SVIT mart's ids are strings, encoded with the rest

    def layout(self, options: Options) -> Layout:
        return Layout(options.indent if self.name == "llava" else None)

    def container(self, options: Options, out: Path) -> Container:
        L = self.layout(options)
        return Container.array(L.open(1), L.close(0), "," + L.open(1) if L.indent is not None else ", ")

    def python_path(self, extras: tuple[bool, bool]) -> bool:
        return extras[1]  # turns with extra keys; a record's extra keys are rendered below

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        df, L = batch.frame, self.layout(batch.options)
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(df, L)], pl.String)
        # The head (id, image) and the turns are encoded apart: the turns are nearly all of the
        # text and hold only three kinds of piece to replace, and a search for three pieces
        # costs half what a search for the eight of a whole record costs.
        image = pl.when(pl.col("has_image")).then(pl.col("image"))
        # Integer ids (LLaVA files, their mixes) are put in front of the encoded image.
        if "id_json" not in df.columns or df["id_json"].str.starts_with('"').all():
            head = replace_tokens(encode(pl.col("id"), image=image), head_tokens(L, True))
        else:
            head = replace_tokens(encode(image=image), head_tokens(L, False))
            head = pl.concat_str(pl.lit("{" + L.open(2) + '"id": '), pl.col("id_json"), head)
        turns = encode(conversations=pl.col("conversations"))
        turns = replace_tokens(turns, turn_tokens(L))
        # `{"conversations":` (17 characters) is written with the head; the turns' closing `}` closes the record.
        text = pl.concat_str(
            pl.lit(batch.sep),
            head.str.head(-1),
            self.extra_members(df, L),
            pl.lit(L.sep(2) + '"conversations": '),
            turns.str.slice(17),
        )
        if L.indent is not None:
            # The last turn, the list and the record close on lines of their own.
            end = L.close(3) + "}" + L.close(2) + "]" + L.close(1) + "}"
            text = (
                pl.when(text.str.ends_with("}]}"))
                .then(pl.concat_str(text.str.head(-3), pl.lit(end)))
                .when(text.str.ends_with("[]}"))
                .then(pl.concat_str(text.str.head(-1), pl.lit(L.close(1) + "}")))
                .otherwise(text)
            )
        return df.select(text.alias("text")).to_series()

    @staticmethod
    def extra_members(df: pl.DataFrame, L: Layout) -> pl.Expr:
        """A record's extra keys, as json.dumps writes them after `image` (numbers and nesting as
        Python prints them): each distinct `extra` of the batch rendered once (LLaVA-1.5's mix
        has one, `{"model": ""}`)."""
        distinct = df["extra"].drop_nulls().unique().to_list()
        if not distinct:
            return pl.lit("")
        members = {}
        for extra in distinct:
            text = ""
            for key, value in json.loads(extra).items():
                value_text = json.dumps(value, ensure_ascii=False, indent=L.indent)
                value_text = value_text if L.indent is None else value_text.replace("\n", L.open(2))
                text += L.sep(2) + json.dumps(key, ensure_ascii=False) + ": " + value_text
            members[extra] = text
        return pl.col("extra").replace_strict(members, default="", return_dtype=pl.String)

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
