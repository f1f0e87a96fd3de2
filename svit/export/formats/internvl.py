"""`internvl`: InternVL's fine-tuning JSON lines (internvl_chat), plus the meta file entry.

    {"id": "a1", "image": "vg/VG_100K/1.jpg", "width": 800, "height": 600,
     "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cat."}]}

InternVL's chat data format (internvl.readthedocs.io, "Chat Data Format"): `id`, `image`
(a path under the meta entry's `root`), `width`/`height` (recommended), `conversations`; a
text-only record has no `image`. The id is written as the record has it (integer or string).
Sizes come from the warehouse (Visual Genome's image_data.json, COCO's caption files); a
record whose image size the warehouse does not know is written without `width`/`height`
(they are optional) and the export says how many. InternVL's docs ask for exactly one
`<image>` per image; its code puts one in front of the first turn when a record has none, so
records with none are written, while records with more `<image>` than images, or with
`<image>` in an answer (where the code would then add one more), stop the export, named.
The annotation must be a `.jsonl` file (InternVL asserts it).

Beside the file, `internvl_meta.json` gets (or has replaced) the entry `--dataset-name`
(default: the file's name without suffix): `root` (`--image-root`, default empty: paths
relative to where training runs), `annotation` (the file's absolute path),
`data_augment: false`, `repeat_time: 1` and `length` (its number of records). Give
InternVL that file as `--meta_path`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from svit.export.formats.base import (
    IMAGE_TOKEN,
    Batch,
    Format,
    Options,
    Problems,
    add_problems,
    compact,
    encode,
    images_count,
    python_records,
    replace_tokens,
    with_token_counts,
    with_turns,
)
from svit.export.formats.registry_file import add_entry, read
from svit.export.formats.sharegpt import dataset_name
from svit.export.lengths import length_member

META = "internvl_meta.json"
# The keys of an InternVL record besides id, image, video and conversations: an ingested
# InternVL file's own are written back; other extra keys are left out, as elsewhere.
INTERNVL_KEYS = frozenset({"width", "height", "width_list", "height_list"})


class InternVL(Format):
    name = "internvl"
    summary = "InternVL's JSON lines (id, image, width, height, conversations) and a meta file entry"
    options = frozenset({"ensure_ascii", "dataset_name", "image_root", "lengths"})
    needs_sizes = True
    lines_only = True

    def check(self, options: Options, out: Path) -> None:
        super().check(options, out)
        read(out.parent / META)

    def python_path(self, extras: tuple[frozenset[str], bool, bool]) -> bool:
        return bool(extras[0] & INTERNVL_KEYS) or extras[2]  # an InternVL file's own sizes; media

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(batch.frame, problems)], pl.String)
        df = with_token_counts(batch.frame)
        problems.add(
            "errors", "records with more <image> tokens than images", df.filter(pl.col("tokens") > images_count())["id"]
        )
        problems.add(
            "errors",
            "records with <image> in an answer",
            df.filter(pl.col("tokens") != pl.col("question_tokens"))["id"],
        )
        problems.add(
            "notes",
            "records whose image size is unknown, written without width/height",
            df.filter(pl.col("has_image") & pl.col("width").is_null())["id"],
        )
        # The image and its size, keys left out where null: `,"image":"a.jpg","width":800,"height":600,`
        # after the id, or `,` for a text-only record.
        image = pl.when(pl.col("has_image")).then(pl.col("image"))
        keys = replace_tokens(
            encode(image=image, width=pl.col("width"), height=pl.col("height")),
            {
                '{"image":null,"width":null,"height":null}': "}",
                ',"width":null,"height":null}': "}",
                '{"image":': ',"image":',
            },
        )
        head = pl.concat_str(
            pl.lit('{"id":'),
            pl.col("id_json"),
            keys.str.head(-1),
            pl.lit(","),
            # InternVL's --group_by_length reads it (svit/export/lengths.py).
            length_member('"length":', signed=False, after=",") if "length" in df.columns else pl.lit(""),
        )
        return df.select(with_turns(batch.sep, head).alias("text")).to_series()

    def render_python(self, df: pl.DataFrame, problems: Problems) -> list[str]:
        """Records of a model with InternVL's own keys or several images or a video: `image` as a
        string or a list, `video`, the record's own sizes (an InternVL file's `width`,
        `width_list`, ... win over the warehouse's), `length`, `conversations`."""
        texts, more, answers, unknown = [], [], [], []
        for r in python_records(df):
            if r.marks(IMAGE_TOKEN) > len(r.images):
                more.append(r)
            if r.marks(IMAGE_TOKEN) != r.marks(IMAGE_TOKEN, "human"):
                answers.append(r)
            record = {"id": r.id, **r.llava_media()}
            if isinstance(record.get("image"), str) and r.row.get("width") is not None:
                record.update(width=r.row["width"], height=r.row["height"])
            record.update({k: v for k, v in r.extra.items() if k in INTERNVL_KEYS})
            if isinstance(record.get("image"), str) and "width" not in record:
                unknown.append(r)
            if r.row.get("length") is not None:
                record["length"] = r.row["length"]
            record["conversations"] = r.turns
            texts.append(compact(record))
        add_problems(problems, "errors", "records with more <image> tokens than images", more)
        add_problems(problems, "errors", "records with <image> in an answer", answers)
        add_problems(problems, "notes", "records whose image size is unknown, written without width/height", unknown)
        return texts

    def side_files(self, out: Path, records: int, options: Options, facts: dict | None = None) -> list[Path]:
        entry = {
            "root": options.image_root or "",
            "annotation": str(out),
            "data_augment": False,
            "repeat_time": 1,
            "length": records,
        }
        return [add_entry(out.parent / META, dataset_name(out, options), entry)]
