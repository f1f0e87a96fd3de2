"""How `svit check` reads text: words and word n-grams, as 64-bit hashes.

One cut serves every rule that counts words (repetition, near-duplicates, benchmark questions):
ASCII letters are lower-cased and a text is cut at white space and ASCII punctuation, so
"Street." and "street" are one word and a benchmark question matches however a record
punctuates it. Characters beyond ASCII stay inside their word, as they are. The turns are cut
once per check, whichever rules read them, as one translation of their bytes (bench/README.md,
"svit check").
"""

from __future__ import annotations

import string

import numpy as np
import polars as pl
import pyarrow as pa

# What ends a word: white space (tab, line feed, vertical tab, form feed, carriage return,
# space) and the 32 ASCII punctuation characters.
CUTS = "\t\n\x0b\x0c\r " + string.punctuation
# Byte by byte: an ASCII capital becomes its small letter, a cut a space, any other byte stays
# (so UTF-8 stays valid: bytes of characters beyond ASCII are 0x80 and up).
CUT_TABLE = bytes(32 if chr(b) in CUTS else b + 32 if 65 <= b <= 90 else b for b in range(256))
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
EMPTY_WORD = pl.Series([""]).hash(seed=0).item()


def cut(texts: pa.Array) -> pl.Series:
    """`texts` (Arrow strings) lower-cased and with every cut a space, so that words are what lies
    between spaces. A byte-for-byte translation of the strings' buffer: the offsets and nulls stay."""
    if pa.types.is_string_view(texts.type):
        texts = texts.cast(pa.large_string())
    validity, offsets, data = texts.buffers()
    if data is not None:
        data = pa.py_buffer(data.to_pybytes().translate(CUT_TABLE))
    return pl.from_arrow(
        pa.Array.from_buffers(texts.type, len(texts), [validity, offsets, data], texts.null_count, texts.offset)
    )


def word_hashes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(owner, hash) of every word of `texts` (cut by `cut`), in order; `owner`: the text's
    position in `texts` (a null text has no words)."""
    present = texts.is_not_null().to_numpy()
    words = texts.drop_nulls().str.split(" ")
    # Hashed inside the lists, then laid out: numbers are far cheaper to lay out than strings.
    hashes = words.list.eval(pl.element().hash(seed=0)).explode().to_numpy()
    owners = np.repeat(np.flatnonzero(present), words.list.len().to_numpy())
    # Two cuts in a row leave an empty word between them: dropped by its hash.
    word = hashes != EMPTY_WORD
    return owners[word], hashes[word]


def words_of(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(owner, hash) of every word of `texts`, as word_hashes(cut(texts))."""
    return word_hashes(cut(texts.cast(pl.String).to_arrow()))


def word_grams(hashes: np.ndarray, k: int, shorter: np.ndarray | None = None) -> np.ndarray:
    """The (unmixed) hash of words i..i+k-1 for every i, from the words' hashes; `shorter`: the
    same for k - 1, if at hand (then one step instead of k - 1)."""
    if len(hashes) < k:
        return np.zeros(0, np.uint64)
    if shorter is not None:
        return shorter[:-1] * MULTIPLIER + hashes[k - 1 :]
    gram = hashes[: len(hashes) - k + 1].copy()
    for j in range(1, k):
        gram = gram * MULTIPLIER + hashes[j : len(hashes) - k + 1 + j]
    return gram


def doubled_grams(gram: np.ndarray, k: int) -> np.ndarray:
    """word_grams(hashes, 2k) from word_grams(hashes, k): a gram's hash is a polynomial in its
    words' hashes, so the 2k words at i are the k at i shifted by k places plus the k at i + k."""
    if len(gram) <= k:
        return np.zeros(0, np.uint64)
    return gram[:-k] * np.uint64(pow(int(MULTIPLIER), k, 1 << 64)) + gram[k:]


def in_one_text(owners: np.ndarray, k: int) -> np.ndarray:
    """For each run of k words i..i+k-1 (`owners`: each word's text, a text's words contiguous):
    whether all k belong to one text."""
    if len(owners) < k:
        return np.zeros(0, bool)
    return owners[: len(owners) - k + 1] == owners[k - 1 :]


def grams_in_texts(owners: np.ndarray, hashes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(owner, gram) of every k words of one text in a row."""
    valid = in_one_text(owners, k)
    return owners[: max(len(owners) - k + 1, 0)][valid], word_grams(hashes, k)[valid]
