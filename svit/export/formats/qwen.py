"""`qwen`: the records Qwen2-VL / Qwen2.5-VL's official fine-tuning code reads (qwen-vl-finetune).

    {"image": "vg/VG_100K/1.jpg",
     "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cat."}]}

No `id` (the trainer has none); a text-only record has no `image`. Each `<image>` in a
`human` turn takes the next image and the trainer raises when the counts differ; `<image>`
must not appear in an answer (Qwen's fine-tuning README): records breaking either rule stop
the export, named. A JSON array, or JSON lines for a `.jsonl` `--out` (the trainer goes by
the suffix). Paths are relative to the dataset's `data_path` in `qwenvl/data/__init__.py`.
"""

from __future__ import annotations

import polars as pl

from svit.export.formats.base import Batch, Format, Problems, encode, images_count, with_token_counts, with_turns


class Qwen(Format):
    name = "qwen"
    summary = "Qwen2-VL / Qwen2.5-VL fine-tuning records (image + conversations, no id)"
    array_or_lines = True

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        df = with_token_counts(batch.frame)
        problems.add(
            "errors",
            "records whose <image> tokens in questions are not as many as their images",
            df.filter(pl.col("question_tokens") != images_count())["id"],
        )
        problems.add(
            "errors",
            "records with <image> in an answer",
            df.filter(pl.col("tokens") != pl.col("question_tokens"))["id"],
        )
        head = pl.when(pl.col("has_image")).then(pl.concat_str(encode(pl.col("image")).str.head(-1), pl.lit(",")))
        return df.select(with_turns(batch.sep, head.otherwise(pl.lit("{"))).alias("text")).to_series()
