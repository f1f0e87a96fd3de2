"""SVIT's own LLaVA-1.5 files: which blocks form SVIT_core_150K, their ids and order.

The real core set comes from an unpublished core-set algorithm, so ours is a seeded
sample: size ``round(157,712 * images / 108,077)`` (at least 2 blocks per task), with
conversation records taking (157,712 - 113,732) / 157,712 of it and the single-QA rest
spread over the other three tasks in proportion to their block counts. Records are
converted with ``svit.core.baai_procedure``; ids are ``SVIT_<6 digits>`` numbered in a shuffled
order of their own (the official id format is unknown, and these ids deliberately do not
say task, image or block); the file order is shuffled too. The referring instruction of
each record is drawn from a seeded stream and is not recoverable from the record.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from svit.core import baai_procedure
from svit.core.facts import REFERRING_INSTRUCTIONS, SVIT_CORE_150K_RECORDS, SVIT_CORE_150K_SINGLE_QA, TASKS, VG_IMAGES
from synth.seeds import stream
from synth.svit_original import ImagePlan
from synth.visual_genome import folder_of

MIN_PER_TASK = 2


def core_size(images: int) -> int:
    """Records in the synthetic SVIT_core_150K for a corpus of ``images`` images (before minimums)."""
    return round(SVIT_CORE_150K_RECORDS * images / VG_IMAGES)


def _split(total: int, available: dict[str, int]) -> dict[str, int]:
    """Records per task: the conversation share, the rest by block counts, at least MIN_PER_TASK."""
    conv_share = (SVIT_CORE_150K_RECORDS - SVIT_CORE_150K_SINGLE_QA) / SVIT_CORE_150K_RECORDS
    wanted = {"conversation": round(total * conv_share)}
    singles = total - wanted["conversation"]
    others = [t for t in TASKS if t != "conversation"]
    pool = sum(available[t] for t in others) or 1
    exact = {t: singles * available[t] / pool for t in others}
    for t in others:
        wanted[t] = int(exact[t])
    # largest remainder, ties in task order
    left = singles - sum(wanted[t] for t in others)
    for t in sorted(others, key=lambda t: (-(exact[t] - int(exact[t])), TASKS.index(t)))[:left]:
        wanted[t] += 1
    return {t: min(available[t], max(wanted[t], MIN_PER_TASK)) for t in TASKS}


@dataclass
class CorePlan:
    """The chosen blocks, their record ids, file positions and encoded records."""

    per_task: dict[str, int]
    # (task, image position) -> [(block index, file position, record id)]
    chosen: dict[tuple[str, int], list[tuple[int, int, str]]]
    encoded: list[str | None] = field(default_factory=list)
    task_of_position: list[str] = field(default_factory=list)
    instruction_counts: Counter = field(default_factory=Counter)

    @property
    def size(self) -> int:
        return len(self.encoded)

    def store(self, position: int, text: str) -> None:
        self.encoded[position] = text


def plan_core(plans: list[ImagePlan], images: int, seed: int) -> CorePlan:
    """Choose the core blocks (a seeded sample per task) and give each an id and a file position."""
    rng = stream(seed, "core")
    available = {t: sum(p.blocks(t) for p in plans) for t in TASKS}
    per_task = _split(core_size(images), available)
    canonical: list[tuple[str, int, int]] = []  # (task, image position, block), task-major
    for task in TASKS:
        cumulative, total = [], 0
        for p in plans:
            total += p.blocks(task)
            cumulative.append(total)
        for flat in sorted(rng.sample(range(total), per_task[task])):
            position = bisect.bisect_right(cumulative, flat)
            start = cumulative[position - 1] if position else 0
            canonical.append((task, position, flat - start))
    n = len(canonical)
    file_order = list(range(n))
    rng.shuffle(file_order)
    numbers = list(range(n))
    rng.shuffle(numbers)
    chosen: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    task_of_position = [""] * n
    for k, (task, position, block) in enumerate(canonical):
        chosen.setdefault((task, position), []).append((block, file_order[k], f"SVIT_{numbers[k]:06d}"))
        task_of_position[file_order[k]] = task
    return CorePlan(per_task, chosen, [None] * n, task_of_position)


def core_records(
    core: CorePlan, task: str, position: int, meta: dict, blocks: list[dict], seed: int
) -> list[tuple[int, dict]]:
    """The LLaVA records of this image's chosen blocks: ``(file position, record)`` pairs."""
    picks = core.chosen.get((task, position))
    if not picks:
        return []
    image_id, width, height = meta["image_id"], meta["width"], meta["height"]
    path = baai_procedure.image_path(folder_of(meta["url"]), image_id)
    out = []
    for block_index, file_position, record_id in picks:
        instruction_for = None
        if task == "referring_qa":
            rng = stream(seed, "core-instruction", image_id, block_index)
            instruction_for = lambda _turn, rng=rng: REFERRING_INSTRUCTIONS[int(rng.random() * 3)]  # noqa: E731
        record = baai_procedure.to_llava_record(
            task, image_id, block_index, blocks[block_index], path, width, height, instruction_for, record_id
        )
        out.append((file_position, record))
    return out
