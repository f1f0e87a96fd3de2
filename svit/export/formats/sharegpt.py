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
    Batch,
    Format,
    Options,
    Problems,
    encode,
    images_count,
    images_list,
    plain_turns,
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
        df = with_token_counts(batch.frame).with_columns(images=images_list())
        wrong = df.filter(pl.col("tokens") != images_count())
        problems.add("errors", "records whose <image> tokens are not as many as their images", wrong["id"])
        text = with_sep(encode(pl.col("id"), conversations=plain_turns(), images=pl.col("images")), batch.sep)
        return df.select(text.alias("text")).to_series()

    def side_files(self, out: Path, records: int, options: Options) -> list[Path]:
        entry = {
            "file_name": out.name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "images": "images"},
        }
        return [add_entry(out.parent / DATASET_INFO, dataset_name(out, options), entry)]
