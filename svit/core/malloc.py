"""Keeping batch-sized allocations in glibc's heap instead of fresh mappings.

Every Arrow batch the scans hand over is above glibc's mmap threshold, so each one was a new
mapping: page faults and zeroed pages for every batch, and on a VM whose free memory went
back to the host, kernel time for every page touched. Serving allocations
up to 32 MiB (glibc's limit for this setting) from the heap, and not trimming it, reuses the
same pages, for a little more peak memory. Elsewhere than glibc this does nothing. Ingest
sets it (ingest/pipeline.py); what it saves is in bench/README.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_batches_in_heap() -> bool:
    """Set glibc's thresholds once per process; False where there is no glibc mallopt."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
