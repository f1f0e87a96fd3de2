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

from svit.export.formats.base import (
    IMAGE_TOKEN,
    VIDEO_TOKEN,
    Batch,
    Format,
    Problems,
    add_problems,
    compact,
    encode,
    images_count,
    python_records,
    with_token_counts,
    with_turns,
)


class Qwen(Format):
    name = "qwen"
    summary = "Qwen2-VL / Qwen2.5-VL fine-tuning records (image + conversations, no id)"
    array_or_lines = True

    def render(self, batch: Batch, problems: Problems) -> pl.Series:
        if batch.python:
            return pl.Series("text", [batch.sep + t for t in self.render_python(batch.frame, problems)], pl.String)
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

    def render_python(self, df: pl.DataFrame, problems: Problems) -> list[str]:
        """Records naming several images or a video: `image` and `video` as a string or a list."""
        texts, wrong, answers = [], [], []
        for r in python_records(df):
            questions = (r.marks(IMAGE_TOKEN, "human"), r.marks(VIDEO_TOKEN, "human"))
            if questions != (len(r.images), len(r.videos)):
                wrong.append(r)
            if r.marks(IMAGE_TOKEN) + r.marks(VIDEO_TOKEN) != sum(questions):
                answers.append(r)
            record = r.llava_media()
            record["conversations"] = [{"from": t["from"], "value": t["value"]} for t in r.turns]
            texts.append(compact(record))
        reason = "records whose <image>/<video> tokens in questions are not as many as their images/videos"
        add_problems(problems, "errors", reason, wrong)
        add_problems(problems, "errors", "records with <image> or <video> in an answer", answers)
        return texts
