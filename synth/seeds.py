"""Seed derivation: every random stream is a ``random.Random`` keyed by (seed, labels).

Streams are keyed by what they generate (a task and an image id, say), never by the
order the generator happens to run in, so any image can be regenerated on its own and
the output does not depend on iteration order. ``hash()`` is never used (it is salted).
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *labels: object) -> int:
    """A 64-bit integer determined by the seed and the labels (their ``str`` forms)."""
    key = "\x1f".join([str(seed), *map(str, labels)]).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def stream(seed: int, *labels: object) -> random.Random:
    """A private random stream for (seed, labels)."""
    return random.Random(derive_seed(seed, *labels))
