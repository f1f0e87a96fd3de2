"""SVIT's original format (``data/<task>.json``): the plan of blocks and the blocks' text.

Shapes follow the dataset card: conversation 2-4 blocks of 3-6 QA pairs (~3 x ~5),
complex_reasoning 12-18 single-QA blocks, referring_qa 7-13 single-QA blocks whose
question and answer carry 1-3 ``<st>phrase<ed> [box], ...`` marks, detail_description one
block. One image has no SVIT data at all (as in SVIT: 108,077 images, 108,076 covered);
~2% of images have no detail description and a few miss each other task.

Extra keys, which a reader must keep: ~10% of conversation blocks carry ``"topic"``,
~1% of complex_reasoning blocks carry ``"source": "gpt-4"`` (image 1 always has one of
each). VG image 1's first block of every task is SVIT's own (``synth.golden``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from svit.core.facts import DETAIL_QUESTIONS, TASKS
from synth import golden
from synth.seeds import stream
from synth.text import POSITIONS, PREPOSITIONS, TOPICS, TextPool
from synth.visual_genome import ObjectGroup

# Share of images missing from each task's file (at least one image each when N >= 10).
MISSING_RATE = {"conversation": 0.001, "complex_reasoning": 0.001, "detail_description": 0.02, "referring_qa": 0.005}
TOPIC_RATE = 0.10
SOURCE_RATE = 0.01
YES_NO_RATE = 0.25

_REFERRING_QUESTIONS = {
    1: (
        "Where is the {0} in the image?",
        "What is the {0} used for in this scene?",
        "What color is the {0}?",
        "Can you describe the {0} and its surroundings?",
        "What is happening around the {0}?",
    ),
    2: (
        "Which object is located higher in the image, the {0} or the {1}?",
        "What is the relationship between the {0} and the {1}?",
        "Is the {0} closer to the camera than the {1}?",
        "How is the {0} positioned relative to the {1}?",
    ),
    3: (
        "What do the {0}, the {1} and the {2} have in common?",
        "Can you point out the {0}, the {1} and the {2} in the image?",
        "How are the {0}, the {1} and the {2} arranged in the scene?",
    ),
}


@dataclass(frozen=True)
class ImagePlan:
    """How many blocks (and QA pairs per block) an image has in each task; 0 = absent."""

    conversation: tuple[int, ...]  # QA pairs per block
    complex_reasoning: int
    detail_description: int
    referring_qa: int

    def blocks(self, task: str) -> int:
        value = getattr(self, task)
        return len(value) if task == "conversation" else value


def _shape(seed: int, image_id: int) -> ImagePlan:
    rng = stream(seed, "shape", image_id)
    blocks = rng.choices((2, 3, 4), weights=(25, 50, 25))[0]
    qa = tuple(rng.choices((3, 4, 5, 6), weights=(10, 25, 35, 30), k=blocks))
    return ImagePlan(qa, rng.randint(12, 18), 1, rng.randint(7, 13))


def plan(images: list[dict], seed: int) -> tuple[list[ImagePlan], list[int]]:
    """Block counts per image (positions match ``images``) and the ids of uncovered images."""
    plans = [_shape(seed, meta["image_id"]) for meta in images]
    rng = stream(seed, "missing")
    n = len(images)
    uncovered: list[int] = []
    if n >= 2:
        position = rng.randrange(1, n)
        uncovered.append(position)
        plans[position] = ImagePlan((), 0, 0, 0)
    candidates = [p for p in range(1, n) if p not in uncovered]
    for task in TASKS:
        k = round(n * MISSING_RATE[task])
        if n >= 10:
            k = max(k, 1)
        for position in rng.sample(candidates, min(k, len(candidates))):
            old = plans[position]
            plans[position] = ImagePlan(
                **{f: getattr(old, f) for f in TASKS} | {task: () if task == "conversation" else 0}
            )
    return plans, [images[p]["image_id"] for p in uncovered]


class BlockWriter:
    """Generates the blocks of one image for one task."""

    def __init__(self, pool: TextPool):
        self.pool = pool

    def blocks(
        self, task: str, seed: int, image_id: int, plan: ImagePlan, groups: tuple[ObjectGroup, ...]
    ) -> list[dict]:
        rng = stream(seed, task, image_id)
        count = plan.blocks(task)
        first_golden = image_id == 1
        out: list[dict] = []
        if task == "conversation":
            for b, qa in enumerate(plan.conversation):
                block = {"content": self._conversation(rng, qa)}
                if rng.random() < TOPIC_RATE or (first_golden and b == 1):
                    block["topic"] = rng.choice(TOPICS)
                out.append(block)
        elif task == "complex_reasoning":
            for b in range(count):
                block = {"content": self._reasoning(rng)}
                if rng.random() < SOURCE_RATE or (first_golden and b == count - 1):
                    block["source"] = "gpt-4"
                out.append(block)
        elif task == "detail_description":
            for _ in range(count):
                question = DETAIL_QUESTIONS[int(rng.random() * len(DETAIL_QUESTIONS))]
                out.append(
                    {
                        "content": [
                            {"from": "user", "value": question},
                            {"from": "gpt", "value": self.pool.description(rng)},
                        ]
                    }
                )
        elif task == "referring_qa":
            for _ in range(count):
                out.append({"content": self._referring(rng, groups)})
        else:
            raise ValueError(f"unknown task {task!r}")
        if first_golden and out:
            out[0] = _copy_block(golden.IMAGE_1_BLOCKS[task])
        return out

    def _conversation(self, rng: random.Random, qa: int) -> list[dict]:
        pool = self.pool
        qs = pool.conversation_questions
        turns = []
        for _ in range(qa):
            turns.append({"from": "user", "value": qs[int(rng.random() * len(qs))]})
            turns.append({"from": "gpt", "value": pool.answer(rng, 30, 100)})
        return turns

    def _reasoning(self, rng: random.Random) -> list[dict]:
        pool = self.pool
        if rng.random() < YES_NO_RATE:
            q = pool.yes_no_questions[int(rng.random() * len(pool.yes_no_questions))]
            a = pool.yes_no_answer(rng, yes=rng.random() < 0.6)
        else:
            q = pool.reasoning_questions[int(rng.random() * len(pool.reasoning_questions))]
            a = pool.answer(rng, 40, 100)
        return [{"from": "user", "value": q}, {"from": "gpt", "value": a}]

    def _referring(self, rng: random.Random, groups: tuple[ObjectGroup, ...]) -> list[dict]:
        n_q = min(len(groups), rng.choices((1, 2, 3), weights=(35, 50, 15))[0])
        chosen = rng.sample(groups, n_q)
        question = rng.choice(_REFERRING_QUESTIONS[n_q]).format(*(g.mark for g in chosen))
        n_a = min(len(groups), rng.choices((1, 2, 3), weights=(40, 45, 15))[0])
        # The answer names the question's objects again (so a box string often repeats
        # within a record), sometimes with one more.
        pick = list(chosen)
        rng.shuffle(pick)
        others = [g for g in groups if g not in chosen]
        if len(pick) < n_a and others:
            pick.append(rng.choice(others))
        pick = pick[:n_a]
        marks = [g.mark for g in pick]
        clause = self.pool.clause(rng)
        if len(marks) == 1:
            answer = f"The {marks[0]} is {rng.choice(POSITIONS)}, and {clause}"
        elif len(marks) == 2:
            answer = f"The {marks[0]} is {rng.choice(PREPOSITIONS)} the {marks[1]}; {clause}"
        else:
            answer = f"The {marks[0]}, the {marks[1]} and the {marks[2]} are all visible, and {clause}"
        return [{"from": "user", "value": question}, {"from": "gpt", "value": answer}]


def _copy_block(block: dict) -> dict:
    return {**block, "content": [dict(t) for t in block["content"]]}
