"""`sharegpt`: LLaMA-Factory's multimodal ShareGPT records, plus their `dataset_info.json` entry.

    {"id": "a1", "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"},
                                   {"from": "gpt", "value": "A cat."}], "images": ["vg/VG_100K/1.jpg"]}

LLaMA-Factory (data/README.md, mm_plugin.py) reads `conversations` with the tags
`from`/`value`/`human`/`gpt` (its defaults) and an `images` list; the number of `<image>`
tokens in a record's turns must equal its number of images, else training stops with a
ValueError, so the export refuses such records (naming them) instead. A text-only record has
`images: []`. `id` is always a string: the `datasets` loader needs one type per column
(LLaVA-1.5's mix has integer and string ids). A JSON array, or JSON lines for a `.jsonl` `--out`.

Beside the file, `dataset_info.json` gets (or has replaced) the entry `--dataset-name`
(default: the file's name without its suffix); LLaMA-Factory finds the file by that name
when `dataset_dir` is the export's folder.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from svit.export.formats.base import (
    IMAGE_TOKEN,
    VIDEO_TOKEN,
    Batch,
    Format,
    Options,
    Problems,
    add_problems,
    compact,
    encode,
    images_count,
    images_list,
    plain_turns,
    python_records,
    system_turn,
    turn_extra,
    with_sep,
    with_token_counts,
)
from svit.export.formats.registry_file import add_entry, read

DATASET_INFO = "dataset_info.json"


def dataset_name(out: Path, options: Options) -> str:
    return options.dataset_name or out.stem


class ShareGPT(Format):
    name = "sharegpt"
    summary = "LLaMA-Factory's ShareGPT records (conversations + images) and a dataset_info.json entry"
    options = frozenset({"ensure_ascii", "dataset_name"})
    array_or_lines = True

    def check(self, options: Options, out: Path) -> None:
        super().check(options, out)
        read(out.parent / DATASET_INFO)

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(batch.frame, problems)], pl.String)
        df = with_token_counts(batch.frame).with_columns(images=images_list())
        wrong = df.filter(pl.col("tokens") != images_count())
        problems.add("errors", "records whose <image> tokens are not as many as their images", wrong["id"])
        text = with_sep(encode(pl.col("id"), conversations=plain_turns(), images=pl.col("images")), batch.sep)
        return df.select(text.alias("text")).to_series()

    def render_python(self, df: pl.DataFrame, problems: Problems) -> list[str]:
        """Records naming several images or videos, and those of a ShareGPT file, which are
        written back in the file's own keys and role names (its `layout`)."""
        texts, wrong_images, wrong_videos = [], [], []
        for r in python_records(df):
            if r.marks(IMAGE_TOKEN) != len(r.images):
                wrong_images.append(r)
            if r.marks(VIDEO_TOKEN) != len(r.videos):
                wrong_videos.append(r)
            layout = r.layout if r.layout and r.layout["format"] == "sharegpt" else None
            if layout is None:
                record = {
                    "id": r.row["id"],
                    "conversations": [{"from": t["from"], "value": t["value"]} for t in r.turns],
                }
                record["images"] = r.images
                if r.videos:
                    record["videos"] = r.videos
                    problems.facts["videos"] = True
            else:
                names = {"human": layout["human"], "gpt": layout["gpt"]}
                record = {"id": r.id} if layout["id"] else {}
                record.update(r.extra)
                record[layout["turns"]] = system_turn(record, layout) + [
                    {layout["role"]: names[t["from"]], layout["text"]: t["value"], **turn_extra(t)} for t in r.turns
                ]
                record.update(r.media or {})
                problems.facts["layout"] = layout
                if "videos" in (r.media or {}):
                    problems.facts["videos"] = True
            texts.append(compact(record))
        add_problems(problems, "errors", "records whose <image> tokens are not as many as their images", wrong_images)
        add_problems(problems, "errors", "records whose <video> tokens are not as many as their videos", wrong_videos)
        return texts

    def side_files(self, out: Path, records: int, options: Options, facts: dict | None = None) -> list[Path]:
        facts = facts or {}
        layout = facts.get("layout")
        columns = {"messages": layout["turns"] if layout else "conversations", "images": "images"}
        if facts.get("videos"):
            columns["videos"] = "videos"
        entry = {"file_name": out.name, "formatting": "sharegpt", "columns": columns}
        if layout and (layout["role"], layout["text"], layout["human"]) != ("from", "value", "human"):
            entry["tags"] = {
                "role_tag": layout["role"],
                "content_tag": layout["text"],
                "user_tag": layout["human"],
                "assistant_tag": layout["gpt"],
            }
        return [add_entry(out.parent / DATASET_INFO, dataset_name(out, options), entry)]
