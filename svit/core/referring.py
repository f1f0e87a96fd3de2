"""Which of BAAI's three instructions a derived referring record gets.

BAAI chose at random and the choice cannot be regenerated; our models choose by a stable
hash of the record id and a seed, so a rebuild gives the same file. The dbt macro
`referring_instruction` computes the same; tests/dbt checks they agree.
"""

from __future__ import annotations

import hashlib

from svit.core.facts import REFERRING_INSTRUCTIONS


def choose_instruction(record_id: str, seed: int | str = 0) -> str:
    """The instruction of `record_id` under `seed`: md5 of "<id>:<seed>", first 8 hex digits, mod 3."""
    digest = hashlib.md5(f"{record_id}:{seed}".encode()).hexdigest()
    return REFERRING_INSTRUCTIONS[int(digest[:8], 16) % len(REFERRING_INSTRUCTIONS)]
