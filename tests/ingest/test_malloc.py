"""glibc's heap settings (svit/core/malloc.py): which allocations get a mapping of their own."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tests.helpers import REPO

# Run in a fresh interpreter: the settings last for the life of a process.
PROBE = """
import ctypes
from svit.core.malloc import keep_batches_in_heap

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def big_mappings(size):
    with open("/proc/self/maps") as f:
        ranges = [line.split()[0].split("-") for line in f if "[heap]" not in line]
    return {(a, b) for a, b in ranges if int(b, 16) - int(a, 16) >= size}

def own_mapping(mib):
    size = mib << 20
    before = big_mappings(size)
    p = libc.malloc(size)
    new = big_mappings(size) - before
    libc.free(p)
    return bool(new)

print(own_mapping(48), end=" ")
print(keep_batches_in_heap(), own_mapping(16), own_mapping(48))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_batch_sized_allocations_stay_in_the_heap():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True).stdout
    # By default 48 MiB is mapped on its own; after the ingest setting 16 MiB is not (48 MiB
    # still is: glibc's threshold stops at 32 MiB).
    assert out.split() == ["True", "True", "False", "True"]
