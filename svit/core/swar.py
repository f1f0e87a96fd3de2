"""Byte-parallel arithmetic on 64-bit words ("SIMD within a register"), compiled with Numba.

The pieces the compiled loops over byte buffers share: the words of each text
(svit/core/word_counts.py), the punctuation of raw JSON (ingest/json_punctuation.py) and
the referring boxes' scan (ingest/boxes.py).
A buffer is read eight bytes at a time as little-endian 64-bit words; a test on bytes gives
a word with the high bit set in each byte that passes, which `popcount` counts.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

HIGH = np.uint64(0x8080808080808080)  # the high bit of each byte
LOW = np.uint64(0x0101010101010101)  # 1 in each byte
SEVEN = np.uint64(0x7F7F7F7F7F7F7F7F)
ONE = np.uint64(1)
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def compiled(function):
    """Compiled without the GIL; the machine code cached on disk for the next process where
    Numba finds a writable place (beside the function's file, else the user's cache
    directory), else compiled again in each process (its cost: bench/README.md) rather than
    failing to import."""
    try:
        return njit(nogil=True, cache=True)(function)
    except RuntimeError:  # Numba: "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


@intrinsic
def popcount(typingctx, value):
    """Set bits of a 64-bit word: LLVM's ctpop (the CPU's popcount instruction where it has one)."""

    def codegen(context, builder, signature, args):
        return builder.call(builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)]), args)

    return types.uint64(types.uint64), codegen


@njit(inline="always")
def zero_bytes(v):
    """The high bit of each byte of `v` that is 0 (exact per byte: no carries between bytes)."""
    return ~(((v & SEVEN) + SEVEN) | v | SEVEN)


@njit(inline="always")
def bytes_equal(x, byte):
    """The high bit of each byte of `x` that equals `byte` (0..255)."""
    return zero_bytes(x ^ (LOW * np.uint64(byte)))
