"""`llava` (one JSON array, as LLaVA's `json.load` reads it) and `jsonl` (one record per line):
the records exactly as `json.dump(records, f, ensure_ascii=False[, indent=N])` writes them.

Keys in LLaVA's order: `id`, `image` (absent for a text-only record; a list, and `video`,
as LLaVA-NeXT writes them, for records with several images or a video), the record's extra
keys (LLaVA-1.5's mix has `model` on some), `length` with `--lengths` (svit/export/lengths.py),
`conversations`; turns: `from`, `value`, extra keys.

Polars escapes every value (strings as json.dumps escapes them with ensure_ascii=False) and
joins them with json.dumps's punctuation and spacing (`", "`, `": "`, or the newlines and
indentation of `--indent`). Extra keys are written by json.dumps, since their values may be
numbers or nested objects, printed as Python prints them: a record's extra keys once per
distinct value, put in place by Polars; records whose turns have extra keys whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from svit.export.formats.base import Batch, Container, Format, Options, Problems, json_value, python_records
from svit.export.layout import Layout
from svit.export.lengths import length_member


class Llava(Format):
    name = "llava"
    summary = "one JSON array, as LLaVA loads it (json.dump's layout, --indent N)"
    options = frozenset({"indent", "ensure_ascii", "lengths"})
    uses_id_json = False  # a SVIT mart's ids are strings, encoded here

    def layout(self, options: Options) -> Layout:
        return Layout(options.indent if self.name == "llava" else None)

    def container(self, options: Options, out: Path) -> Container:
        L = self.layout(options)
        return Container.array(L.open(1), L.close(0), "," + L.open(1) if L.indent is not None else ", ")

    def python_path(self, extras: tuple[frozenset[str], bool, bool]) -> bool:
        return extras[1] or extras[2]  # turns with extra keys, media; a record's extra keys are rendered below

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        df, L = batch.frame, self.layout(batch.options)
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(df, L)], pl.String)
        # Polars escapes each value (json_value); the punctuation and spacing between them are
        # json.dumps's, put around the values as they are joined.
        id_text = pl.col("id_json") if "id_json" in df.columns else json_value(pl.col("id"))
        image = pl.concat_str(pl.lit(L.sep(2) + '"image": '), json_value(pl.col("image")))
        turn = pl.concat_str(
            pl.lit("{" + L.open(4) + '"from": '),
            json_value(pl.element().struct.field("from")),
            pl.lit(L.sep(4) + '"value": '),
            json_value(pl.element().struct.field("value")),
            pl.lit(L.close(3) + "}"),
        )
        turns = pl.concat_str(
            pl.lit("[" + L.open(3)),
            pl.col("conversations").list.eval(turn).list.join(L.sep(3)),
            pl.lit(L.close(2) + "]"),
        )
        text = pl.concat_str(
            pl.lit(batch.sep + "{" + L.open(2) + '"id": '),
            id_text,
            pl.when(pl.col("has_image")).then(image).otherwise(pl.lit("")),
            self.extra_members(df, L),
            length_member(L.sep(2) + '"length": ', signed=True) if "length" in df.columns else pl.lit(""),
            pl.lit(L.sep(2) + '"conversations": '),
            pl.when(pl.col("conversations").list.len() > 0).then(turns).otherwise(pl.lit("[]")),
            pl.lit(L.close(1) + "}"),
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
        for r in python_records(df):
            # Several images as a list and videos as LLaVA-NeXT / OneVision write them.
            record = {"id": r.id, **r.llava_media()}
            record.update(r.extra)
            length = r.row.get("length")
            if length is not None:  # LLaVA's modality_lengths sign: negative without an image
                record["length"] = length if r.row["has_image"] else -length
            record["conversations"] = r.turns
            text = json.dumps(record, ensure_ascii=False, indent=L.indent)
            texts.append(text if L.indent is None else text.replace("\n", L.open(1)))
        return texts


class Jsonl(Llava):
    name = "jsonl"
    summary = "one LLaVA record per line (json.dumps of each record)"
    options = frozenset({"ensure_ascii", "lengths"})

    def container(self, options: Options, out: Path) -> Container:
        return Container.lines()
