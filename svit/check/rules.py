"""The rules `svit check` evaluates (docs/check.md): what each finds, why it matters, and where
that is known from.

A record rule is a SQL expression over one record (`id`, `image`, `conversations`, a list of
{from, value}) that gives a detail text when the record breaks the rule and null otherwise;
all of them are computed in one pass. The other rules compare records (duplicates) or
judge the model as a whole (its modalities); their SQL lives in svit/check/run.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from svit.core.models_db import IMAGE_FILES

ERROR, WARNING = "error", "warning"

# Families whose trainers count `<image>` placeholders differently (docs/check.md).
FAMILIES = ("llava-1.5", "llava-next", "qwen2-vl", "qwen2.5-vl", "internvl")

# Openings and phrases of answers that are refusals or API failures rather than answers.
# Versioned: a change of the list changes what `check` finds, so the version is recorded
# with every result. Sources: SVIT issue #5 (detail descriptions such as "It seems like your
# message is empty"), and the refusal openings common in GPT-4 output.
FAILURE_PHRASES_VERSION = 1
FAILURE_PHRASES = (
    "I'm sorry, but",
    "I am sorry, but",
    "I'm sorry, I",
    "Sorry, I can't",
    "As an AI",
    "as an AI language model",
    "I cannot provide",
    "I can't provide",
    "I'm unable to",
    "I am unable to",
    "It seems like your message is empty",
    "your message is empty",
    "I cannot see the image",
    "I'm not able to view",
)

# An answer of at least this many words that ends in a letter, a digit or a comma reads as cut off.
TRUNCATED_MIN_WORDS = 20
# Word 4-grams of an answer (words as svit/check/words.py cuts them): an answer whose 4-grams
# repeat this often (occurrences beyond the first, at least REPEAT_MIN and at least REPEAT_SHARE
# of its 4-grams) is a repetition loop (InternVL 2.5 report, section on repetitive samples: such
# data teaches the model to loop).
REPEAT_N = 4
REPEAT_MIN = 8
REPEAT_SHARE = 0.5
# Near-duplicate answers: MinHash over word 5-gram shingles of a record's answers (words as
# svit/check/words.py cuts them), one hash per shingle spread over NEAR_BINS bins (one
# permutation hashing: a bin's minimum is one signature value), banded NEAR_ROWS bins to a band
# for locality-sensitive hashing. Records whose answers have fewer than NEAR_MIN_WORDS words are
# left to the exact rule. A pair is near-duplicate when the share of equal values among the bins
# either fills, which estimates the shingles' Jaccard similarity, is NEAR_THRESHOLD or more. With
# 16 bands of 4, a pair of similarity 0.75 becomes a candidate with probability
# 1 - (1 - 0.75^4)^16 = 0.998. Measured on 200 pairs of random 100-word answers
# (bench/check_near_recall.py): one word changed (similarity 0.91) all found, two words (0.82)
# 97.5%, three (0.75) 48%, five (0.63) 4%; no pair of unrelated answers.
NEAR_SHINGLE = 5
NEAR_BINS = 64
NEAR_ROWS = 4
NEAR_MIN_WORDS = 20
NEAR_THRESHOLD = 0.75


@dataclass(frozen=True)
class Rule:
    name: str
    group: str  # structure, failures, images, length, trainer, duplicates, contamination
    severity: str
    what: str
    source: str
    model_level: bool = False  # judges the model as a whole (a finding without a record)


RULES = {
    r.name: r
    for r in (
        Rule("empty_turn", "structure", ERROR, "a turn whose text is empty or only spaces", "LLaVA's preprocess"),
        Rule(
            "unanswered_last_turn",
            "structure",
            ERROR,
            "the last turn is a question: nothing to learn from it, and trainers that pair turns drop or misalign it",
            "LLaVA-1.5 preprocess_v1 pairs human/gpt turns",
        ),
        Rule(
            "roles_not_alternating",
            "structure",
            ERROR,
            "turns do not go human, gpt, human, ...: LLaVA's preprocess masks the wrong turns",
            "LLaVA-1.5 preprocess_v1",
        ),
        Rule("duplicate_id", "structure", WARNING, "an id that another record of the model has", "trainers key by id"),
        Rule(
            "image_placeholders",
            "structure",
            ERROR,
            "<image> (or <video>) placeholders in the questions do not match the record's media as the family requires",
            "LLaVA-1.5: at most one; LLaMA-Factory, Qwen2-VL: exactly one per medium; InternVL: no more than media",
        ),
        Rule(
            "image_in_answer",
            "structure",
            ERROR,
            "an <image> placeholder inside an answer",
            "Qwen-VL fine-tuning README: <image> must not appear in answers",
        ),
        Rule(
            "failure_answer",
            "failures",
            WARNING,
            f"an answer that is a refusal or an API failure (phrase list version {FAILURE_PHRASES_VERSION})",
            'SVIT issue #5: detail descriptions such as "It seems like your message is empty"',
        ),
        Rule(
            "truncated_answer",
            "failures",
            WARNING,
            f"an answer of {TRUNCATED_MIN_WORDS}+ words ending in a letter, digit or comma: cut off mid-sentence",
            "GPT output cut at its token limit",
        ),
        Rule(
            "repetitive_answer",
            "failures",
            WARNING,
            f"an answer whose word {REPEAT_N}-grams repeat {REPEAT_MIN}+ times and make {REPEAT_SHARE:.0%}+ of them",
            "InternVL 2.5 report: repetitive samples cause repetition loops",
        ),
        Rule(
            "image_missing",
            "images",
            ERROR,
            "no file at the record's image path under the scanned root",
            "LLaVA #1618, #593: missing OCR-VQA and VG files stop training runs",
        ),
        Rule(
            "image_unreadable",
            "images",
            ERROR,
            "the image file is empty, truncated, a directory or not an image Pillow can read",
            "LLaVA #601, #702: 0-byte VG_100K_2 files; Qwen's fine-tuning README ships check_image.py",
        ),
        Rule(
            "image_mislabelled",
            "images",
            WARNING,
            "the file's format (by its first bytes) is not the one its name says (a GIF or PNG saved as .jpg)",
            "LLaVA #1618: OCR-VQA GIFs under .jpg names",
        ),
        Rule(
            "image_size_mismatch",
            "images",
            WARNING,
            "the file's size differs from image_data.json's or COCO's (the boxes and image-token counts use those)",
            "boxes normalised by the metadata size land elsewhere on another size",
        ),
        Rule(
            "image_cmyk",
            "images",
            WARNING,
            "a CMYK image: decoders that expect RGB fail or give wrong colours",
            "torchvision's decode_jpeg and some data loaders refuse CMYK JPEGs",
        ),
        Rule(
            "exact_duplicate",
            "duplicates",
            WARNING,
            "the same image and the same turns as an earlier record",
            "duplicates weigh a sample twice",
        ),
        Rule(
            "near_duplicate_answer",
            "duplicates",
            WARNING,
            f"answers whose word {NEAR_SHINGLE}-grams are {NEAR_THRESHOLD:.0%}+ the same as an earlier record's "
            f"(MinHash estimate; answers of {NEAR_MIN_WORDS}+ words)",
            "near-duplicates over-weigh a sample and leak between splits (dedup practice: MinHash-LSH on n-grams)",
        ),
        Rule(
            "over_max_length",
            "length",
            WARNING,
            "text and image tokens over the trainer's cut-off (--max-length), as `svit tokens` counted them",
            "trainers truncate the end silently (LLaVA-1.5: 2048); LLaMA-Factory #1136, #3995, #6891 ask to drop",
        ),
        Rule(
            "benchmark_image",
            "contamination",
            ERROR,
            "the record's image is one a benchmark evaluates on (--benchmarks: by COCO id, also through Visual "
            "Genome's coco_id, by Visual Genome id or by file name)",
            "LLaMA2-Accessory #111, PSALM #16: POPE's and RefCOCO's val/test images inside COCO train inflate scores",
        ),
        Rule(
            "benchmark_text",
            "contamination",
            WARNING,
            "the record's turns hold half or more of the word 8-grams of a benchmark question (questions of 8+ words)",
            "training on benchmark questions inflates scores; n-gram overlap as in published contamination checks",
        ),
        Rule(
            "single_modality",
            "trainer",
            WARNING,
            "every record has an image, or none has: LLaVA's group_by_modality_length needs both",
            "LLaVA issues #715, #609",
            model_level=True,
        ),
    )
}

# Rules that need a table another command computes, and what computes it.
NEEDS = {
    "images": (IMAGE_FILES, "svit images ROOT"),
    "length": ("record_tokens", "svit tokens --family F"),
}
