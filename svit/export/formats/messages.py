"""`messages`: JSON lines of chat records with content parts, as TRL's SFTTrainer reads vision
datasets (`images` + `messages`; TRL docs, "Vision datasets").

    {"id": "a1", "images": ["vg/VG_100K/1.jpg"], "messages": [
      {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
      {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]}

Roles: `human` -> `user`, `gpt` -> `assistant`, any other kept. A turn's text is cut at each
`<image>`; an image part stands where the token stood, and the newline that joined the token
to the text goes with it. A text-only record has `images: []`. The id keeps its JSON type.
Each image part takes the next image, so a record whose `<image>` tokens are not as many as
its images (TRL's collator would fail on it) stops the export, named.
"""

from __future__ import annotations

import polars as pl

from svit.export.formats.base import (
    IMAGE_TOKEN,
    Batch,
    Container,
    Format,
    Problems,
    add_problems,
    compact,
    encode,
    images_count,
    images_list,
    python_records,
    system_turn,
    turn_extra,
    turn_field,
    with_token_counts,
    with_turns,
)
from svit.export.formats.base import content_parts as python_parts

ROLES = {"human": "user", "gpt": "assistant"}


def content_parts() -> pl.Expr:
    """A turn's text (the list element) as content parts: {type: image} and {type: text, text}."""
    piece, i, n = pl.element(), pl.int_range(pl.len()), pl.len()
    lead = pl.when((i > 0) & piece.str.starts_with("\n")).then(piece.str.slice(1)).otherwise(piece)
    text = pl.when((i < n - 1) & lead.str.ends_with("\n")).then(lead.str.head(-1)).otherwise(lead)
    image_part = pl.when(i > 0).then(pl.struct(type=pl.lit("image"), text=pl.lit(None, pl.String)))
    text_part = pl.when((text != "") | (n == 1)).then(pl.struct(type=pl.lit("text"), text=text))
    return (
        turn_field("value")
        .fill_null("")
        .str.split(IMAGE_TOKEN)
        .list.eval(pl.concat_list(image_part, text_part).explode().drop_nulls())
    )


class Messages(Format):
    name = "messages"
    summary = "JSON lines of chat messages with content parts (TRL's SFTTrainer)"

    def container(self, options, out) -> Container:
        return Container.lines()

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(batch.frame, problems)], pl.String)
        df = with_token_counts(batch.frame)
        wrong = df.filter(pl.col("tokens") != images_count())
        problems.add("errors", "records whose <image> tokens are not as many as their images", wrong["id"])
        role = turn_field("from").replace_strict(ROLES, default=turn_field("from"))
        messages = pl.col("conversations").list.eval(pl.struct(role=role, content=content_parts()))
        # The id as the record has it (integer or string), in front; an image part has no text key.
        images = encode(images=images_list()).str.slice(1).str.head(-1)  # "images":[...]
        head = pl.concat_str(pl.lit('{"id":'), pl.col("id_json"), pl.lit(","), images, pl.lit(","))
        text = with_turns(batch.sep, head, "messages", messages).str.replace_all(',"text":null}', "}", literal=True)
        return df.select(text.alias("text")).to_series()

    def render_python(self, df: pl.DataFrame, problems: Problems) -> list[str]:
        """Records naming several images, and those of a TRL file (written back with its own
        keys, role names and extra keys: its `layout`). TRL reads no videos."""
        texts, wrong, videos = [], [], []
        for r in python_records(df):
            if r.videos:
                videos.append(r)
            if r.marks(IMAGE_TOKEN) != len(r.images):
                wrong.append(r)
            layout = r.layout if r.layout and r.layout["format"] == "messages" else None
            names = {"human": layout["human"], "gpt": layout["gpt"]} if layout else ROLES
            record = {"id": r.id} if layout is None or layout["id"] else {}
            if layout is None:
                record["images"] = r.images
            else:
                record.update(r.extra)
                record.update(r.media or {})
            record["messages"] = (system_turn(record, layout) if layout else []) + [
                {"role": names.get(t["from"], t["from"]), "content": python_parts(t["value"]), **turn_extra(t)}
                for t in r.turns
            ]
            texts.append(compact(record))
        add_problems(problems, "errors", "records whose <image> tokens are not as many as their images", wrong)
        add_problems(problems, "errors", "records with a video (TRL's vision datasets hold images)", videos)
        return texts
