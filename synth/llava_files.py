"""LLaVA-1.5's ``llava_v1_5_mix665k.json`` in miniature, part by part, with its quirks.

Parts come in the order of ``facts.LLAVA_MIX665K_PARTS`` (LLaVA-Instruct first; the real
file's first record is LLaVA-Instruct's first), each as one contiguous run. Quirks kept
(docs/formats.md, "LLaVA-1.5's llava_v1_5_mix665k.json"):

- LLaVA-Instruct: 12-digit string ids, image ``coco/train2017/<id>.jpg``, ids repeated
  (one image, several conversations); ``<image>`` after the question in ~25% of records.
- ShareGPT: no ``image`` key, ``"model": ""`` (key order id, model, conversations), no
  ``<image>``; values with unicode (é, 中文, emoji), quotes, backslashes, newlines, code.
- VQAv2 / OKVQA: the short-answer suffix on every question; GQA / OCR-VQA: on the first
  question only (as in the published excerpts); A-OKVQA: multiple choice or short answer.
- GQA ids are JSON integers; OCR-VQA ids are ISBN-like strings (``140031996X``).
- VG: ids ``VG_100K_2/<id>``, region prompts with 2-decimal boxes; RefCOCO likewise on COCO.
- TextCaps: caption prompt with reference OCR tokens, image ``textvqa/train_images/<hex>.jpg``.

Real excerpts (``synth.golden``) open their parts: LLaVA-Instruct, GQA, OCR-VQA, VG.
Id formats of OKVQA, A-OKVQA, TextCaps and RefCOCO records in the real file are not
documented; ours are plausible stand-ins.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

from svit.core.facts import IMAGE_TOKEN, LLAVA_MIX665K_PARTS, SHORT_ANSWER_SUFFIX, VG_IMAGES
from synth import golden
from synth.seeds import stream
from synth.text import COLORS, OBJECTS, TextPool

_ALNUM = string.ascii_letters + string.digits
_FIRST_RECORD = {
    "llava_instruct": golden.LLAVA_INSTRUCT_FIRST,
    "gqa": golden.MIX665K_GQA_EXCERPT,
    "ocr_vqa": golden.MIX665K_OCR_VQA_EXCERPT,
    "vg": golden.MIX665K_VG_EXCERPT,
}
_LLAVA_DETAIL_PROMPTS = (
    "Describe the following image.",
    "What do you see happening in this image?",
    "Explain the visual content of the image in great detail.",
    "Can you elaborate on the elements of the picture provided?",
)
_SHORT_ANSWERS = (
    "Yes",
    "No",
    "2",
    "3",
    "left",
    "right",
    "white",
    "red",
    "man",
    "table",
    "wood",
    "sunny",
    "tennis",
    "pizza",
    "bathroom",
    "frisbee",
    "black",
    "none",
)
_GQA_QUESTIONS = (
    "Is the {0} to the left or to the right of the {1}?",
    "What color is the {0}?",
    "Are there both {0}s and {1}s in this picture?",
    "Who is wearing the {0}?",
    "Which kind of furniture is {2}?",
    "Is the {0} made of {3}?",
    "Does the {0} look {2}?",
    "What is the {0} on?",
)
_OCR_QUESTIONS = (
    ("Who wrote this book?", "author"),
    ("What is the title of this book?", "title"),
    ("What type of book is this?", "genre"),
    ("Is this a comedy book?", "yn"),
    ("What is the genre of this book?", "genre"),
    ("Is this book related to Travel?", "yn"),
    ("Who is the author of this book?", "author"),
    ("Is this a sci-fi book?", "yn"),
)
_GENRES = (
    "Cookbooks, Food & Wine",
    "Travel",
    "Religion & Spirituality",
    "Children's Books",
    "Science Fiction & Fantasy",
    "Business & Money",
    "Health, Fitness & Dieting",
    "History",
)
_AUTHORS = ("M. Laurent", "José Álvarez", "Anne O'Neill", "李明", "K. R. Sharma", "Ellen Park")
_REGION_DESCRIBE = "Please provide a short description for this region: {}."
_REGION_LOCATE = "Please provide the bounding box coordinate of the region this sentence describes: {}."
_MC_SUFFIX = "\nAnswer with the option's letter from the given choices directly."
_SHAREGPT_HUMAN = (
    'Can you explain what this Python line does?\n\n```python\npath = "C:\\\\Users\\\\me\\\\data.json"\n```',
    'Translate "good morning" into French, Chinese and Japanese.',
    "Write a short poem about the café on the corner ☕️",
    "What is the difference between a list and a tuple?",
    "请用中文解释一下什么是机器学习。",
    "Give me three tips for a better résumé.",
    'Summarize the following text:\n"The quick brown fox" \\ jumps over the lazy dog.\nThank you!',
    "How do I escape a backslash (\\) in a regular expression?",
    "I feel tired today 😴 any advice?",
)
_SHAREGPT_GPT_OPENERS = (
    "Sure! Here is an explanation:\n\n",
    "Bonjour ! « Good morning » se dit « bonjour » en français. ",
    "机器学习是人工智能的一个分支。",
    "Of course. ",
    "Here are three ideas:\n1. ",
    "The backslash `\\` is an escape character, so write `\\\\` to match it. ",
    "Great question! 😊 ",
)


def part_sizes(images: int, llava_instruct: int) -> dict[str, int]:
    """Records per part: ``round(count * images / 108,077)``, at least 2; LLaVA-Instruct as given.

    LLaVA-Instruct takes the core's size, so SVIT_mix_665K (the mix with that part replaced
    by the core) has exactly as many records as the mix, as in the real recipe.
    """
    sizes = {part: max(2, round(count * images / VG_IMAGES)) for part, count, _ in LLAVA_MIX665K_PARTS}
    sizes["llava_instruct"] = llava_instruct
    return sizes


def _coco_id(rng: random.Random) -> str:
    return f"{rng.randint(9, 581_929):012d}"


def _human(text: str, first: bool, after: bool = False) -> dict:
    if first:
        text = f"{text}\n{IMAGE_TOKEN}" if after else f"{IMAGE_TOKEN}\n{text}"
    return {"from": "human", "value": text}


def _gpt(text: str) -> dict:
    return {"from": "gpt", "value": text}


def _box2(rng: random.Random) -> str:
    x1, y1 = rng.randint(0, 80), rng.randint(0, 80)
    x2, y2 = rng.randint(x1 + 5, 100), rng.randint(y1 + 5, 100)
    return f"[{round(x1 / 100, 2)}, {round(y1 / 100, 2)}, {round(x2 / 100, 2)}, {round(y2 / 100, 2)}]"


def _noun(rng: random.Random) -> str:
    return OBJECTS[int(rng.random() * len(OBJECTS))][0]


class MixWriter:
    """Generates each part's records; one seeded stream per part."""

    def __init__(self, pool: TextPool, seed: int):
        self.pool = pool
        self.seed = seed

    def records(self, part: str, n: int) -> Iterator[dict]:
        rng = stream(self.seed, "llava", part)
        make = getattr(self, "_" + part)
        if part == "llava_instruct":
            yield from self._llava_instruct_part(rng, n)
            return
        first = _FIRST_RECORD.get(part)
        for k in range(n):
            if k == 0 and first is not None:
                yield first
            else:
                yield make(rng)

    def _llava_instruct_part(self, rng: random.Random, n: int) -> Iterator[dict]:
        used: list[str] = []
        for k in range(n):
            if k == 0:
                used.append(golden.LLAVA_INSTRUCT_FIRST["id"])
                yield golden.LLAVA_INSTRUCT_FIRST
                continue
            # ~40% of records reuse an earlier image id; the second record always does, so
            # even a tiny corpus has a repeated id.
            if k == 1 or rng.random() < 0.4:
                record_id = used[int(rng.random() * len(used))]
            else:
                record_id = _coco_id(rng)
                used.append(record_id)
            yield self._llava_instruct(rng, record_id)

    def _llava_instruct(self, rng: random.Random, record_id: str) -> dict:
        pool = self.pool
        after = rng.random() < 0.25
        kind = rng.random()
        if kind < 0.4:  # conversation: several short QA pairs
            turns = []
            for q in range(rng.randint(1, 5)):
                question = pool.conversation_questions[int(rng.random() * len(pool.conversation_questions))]
                turns += [_human(question, q == 0, after), _gpt(pool.answer(rng, 10, 40))]
        elif kind < 0.55:  # detailed description
            prompt = _LLAVA_DETAIL_PROMPTS[int(rng.random() * len(_LLAVA_DETAIL_PROMPTS))]
            turns = [_human(prompt, True, after), _gpt(pool.answer(rng, 60, 140))]
        else:  # complex reasoning
            question = pool.reasoning_questions[int(rng.random() * len(pool.reasoning_questions))]
            turns = [_human(question, True, after), _gpt(pool.answer(rng, 50, 150))]
        return {"id": record_id, "image": f"coco/train2017/{record_id}.jpg", "conversations": turns}

    def _sharegpt(self, rng: random.Random) -> dict:
        record_id = "".join(rng.choices(_ALNUM, k=7)) + f"_{rng.randint(0, 12)}"
        turns = []
        for _ in range(rng.randint(1, 4)):
            turns.append({"from": "human", "value": rng.choice(_SHAREGPT_HUMAN)})
            turns.append(_gpt(rng.choice(_SHAREGPT_GPT_OPENERS) + self.pool.answer(rng, 40, 200)))
        return {"id": record_id, "model": "", "conversations": turns}

    def _short_qa(self, rng: random.Random, questions: int, suffix_every_turn: bool) -> list[dict]:
        turns = []
        for q in range(questions):
            o1, o2 = _noun(rng), _noun(rng)
            text = rng.choice(_GQA_QUESTIONS).format(o1, o2, rng.choice(COLORS), "wood")
            if q == 0 or suffix_every_turn:
                text += SHORT_ANSWER_SUFFIX
            turns += [_human(text, q == 0), _gpt(rng.choice(_SHORT_ANSWERS))]
        return turns

    def _vqav2(self, rng: random.Random) -> dict:
        record_id = _coco_id(rng)
        return {
            "id": record_id,
            "image": f"coco/train2017/{record_id}.jpg",
            "conversations": self._short_qa(rng, rng.randint(1, 6), True),
        }

    def _okvqa(self, rng: random.Random) -> dict:
        record_id = _coco_id(rng)
        return {
            "id": record_id,
            "image": f"coco/train2017/{record_id}.jpg",
            "conversations": self._short_qa(rng, 1, True),
        }

    def _gqa(self, rng: random.Random) -> dict:
        record_id = rng.randint(1, 2_417_997)
        return {
            "id": record_id,
            "image": f"gqa/images/{record_id}.jpg",
            "conversations": self._short_qa(rng, rng.randint(1, 8), False),
        }

    def _ocr_vqa(self, rng: random.Random) -> dict:
        digits = f"{rng.randint(0, 999_999_999):09d}"
        record_id = digits + rng.choice("0123456789X")
        turns = []
        for q, (question, kind) in enumerate(rng.sample(_OCR_QUESTIONS, rng.randint(1, 5))):
            if kind == "author":
                answer = rng.choice(_AUTHORS)
            elif kind == "genre":
                answer = rng.choice(_GENRES)
            elif kind == "title":
                answer = self.pool.clause(rng).rstrip(".").title()[:90]
            else:
                answer = rng.choice(("Yes", "No"))
            turns += [_human(question + (SHORT_ANSWER_SUFFIX if q == 0 else ""), q == 0), _gpt(answer)]
        return {"id": record_id, "image": f"ocr_vqa/images/{record_id}.jpg", "conversations": turns}

    def _a_okvqa(self, rng: random.Random) -> dict:
        image_id = _coco_id(rng)
        record_id = "".join(rng.choices(_ALNUM, k=22))
        question = f"What is the {_noun(rng)} most likely used for?"
        if rng.random() < 0.5:
            options = [rng.choice(_SHORT_ANSWERS) for _ in range(4)]
            text = question + "\n" + "\n".join(f"{'ABCD'[i]}. {o}" for i, o in enumerate(options)) + _MC_SUFFIX
            answer = rng.choice("ABCD")
        else:
            text = question + SHORT_ANSWER_SUFFIX
            answer = rng.choice(_SHORT_ANSWERS)
        return {
            "id": record_id,
            "image": f"coco/train2017/{image_id}.jpg",
            "conversations": [_human(text, True), _gpt(answer)],
        }

    def _textcaps(self, rng: random.Random) -> dict:
        record_id = "".join(rng.choices("0123456789abcdef", k=16))
        tokens = ", ".join(
            rng.choice(("SALE", "Coca-Cola", "2019", "STOP", "café", "OPEN")) for _ in range(rng.randint(1, 4))
        )
        prompt = f"Provide a one-sentence caption for the provided image.\nReference OCR token: {tokens}"
        caption = f'A {rng.choice(COLORS)} {_noun(rng)} with a sign that says "{tokens.split(", ")[0]}".'
        return {
            "id": record_id,
            "image": f"textvqa/train_images/{record_id}.jpg",
            "conversations": [_human(prompt, True), _gpt(caption)],
        }

    def _regions(self, rng: random.Random) -> list[dict]:
        turns = []
        for q in range(rng.randint(2, 8)):
            box = _box2(rng)
            phrase = f"{rng.choice(COLORS)} {_noun(rng)} near the {_noun(rng)}"
            if rng.random() < 0.5:
                turns += [_human(_REGION_DESCRIBE.format(box), q == 0), _gpt(phrase[0].upper() + phrase[1:] + ".")]
            else:
                turns += [_human(_REGION_LOCATE.format(phrase), q == 0), _gpt(box)]
        return turns

    def _refcoco(self, rng: random.Random) -> dict:
        image_id = _coco_id(rng)
        record_id = f"refcoco_{rng.randint(0, 142_209)}"
        return {"id": record_id, "image": f"coco/train2017/{image_id}.jpg", "conversations": self._regions(rng)}

    def _vg(self, rng: random.Random) -> dict:
        folder = "VG_100K" if rng.random() < 0.6 else "VG_100K_2"
        image_id = rng.randint(1, 2_417_997)
        return {
            "id": f"{folder}/{image_id}",
            "image": f"vg/{folder}/{image_id}.jpg",
            "conversations": self._regions(rng),
        }
