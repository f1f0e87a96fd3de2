"""The near-duplicate rule: records whose answers are near-duplicates of an earlier record's.

One-permutation MinHash over word 5-gram shingles with locality-sensitive hashing (bands), kept
as 16-bit values per bin (b-bit MinHash). Each batch of records gets its signatures from its
words' hashes (svit/check/answers.py streams them), so no step holds more than a batch of
words. What is kept for the whole model is 128 bytes per record (its 64 bin values); the
candidates and their comparison work on those, in numpy.

Why not SQL: the same steps as DuckDB queries (lists of hashes per record, a list sort, a
filter per band, a join of lists per candidate pair) were most of `svit check llava_svit_all`'s
time at full scale, comparing the candidate pairs most of that (bench/README.md).

Why 16 bits: a bin's value is the low 16 bits of its minimum, the lowest of them set so that 0
can mean an empty bin. Two different minima then agree once in 32,768, which moves a similarity
of 0.75 by less than 0.0001, while the signatures take a quarter of the memory and four bins of
a band fit one 64-bit integer, which is then the band's bucket as it is (b-bit MinHash: Li and
Koenig, "b-Bit Minwise Hashing", WWW 2010).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from svit.check.rules import NEAR_BINS, NEAR_MIN_WORDS, NEAR_ROWS, NEAR_SHINGLE, NEAR_THRESHOLD

PAIRS_AT_ONCE = 1_000_000
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (MurmurHash3's fmix64): every output bit depends on every input bit."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def word_grams(hashes: np.ndarray, k: int, shorter: np.ndarray | None = None) -> np.ndarray:
    """The (unmixed) hash of words i..i+k-1 for every i, from the words' hashes; `shorter`: the
    same for k - 1, if at hand (then one step instead of k - 1)."""
    if shorter is not None:
        return shorter[:-1] * MULTIPLIER + hashes[k - 1 :]
    gram = hashes[: len(hashes) - k + 1].copy()
    for j in range(1, k):
        gram = gram * MULTIPLIER + hashes[j : len(hashes) - k + 1 + j]
    return gram


def in_one_text(owners: np.ndarray, k: int) -> np.ndarray:
    """For each run of k words i..i+k-1 (`owners`: each word's text, a text's words contiguous):
    whether all k belong to one text."""
    return owners[: len(owners) - k + 1] == owners[k - 1 :]


def signatures(owners: np.ndarray, hashes: np.ndarray, n: int, shorter: np.ndarray | None = None) -> np.ndarray:
    """(n, NEAR_BINS) uint16: the low 16 bits of each text's smallest shingle hash per bin (odd),
    0 where the bin got no shingle or the text has fewer than NEAR_MIN_WORDS words (then every
    bin is 0). `owners`: each word's text; `shorter`: word_grams(hashes, NEAR_SHINGLE - 1), if
    at hand."""
    k = NEAR_SHINGLE
    if len(hashes) < k:
        return np.zeros((n, NEAR_BINS), np.uint16)
    valid = in_one_text(owners, k)  # shingle i is words i..i+k-1
    shingle = _mix(word_grams(hashes, k, shorter))[valid]
    owner = owners[: len(owners) - k + 1][valid]
    empty = np.iinfo(np.uint64).max
    lowest = np.full((n, NEAR_BINS), empty, np.uint64)
    bins = (shingle & np.uint64(NEAR_BINS - 1)).astype(np.intp)  # NEAR_BINS is a power of two
    # The value's lowest bit set: its low 16 bits are then never 0, which marks an empty bin.
    np.minimum.at(lowest, (owner, bins), (shingle >> np.uint64(NEAR_BINS.bit_length() - 1)) | np.uint64(1))
    sig = lowest.astype(np.uint16)  # the low 16 bits of each bin's minimum
    sig[lowest == empty] = 0
    long_enough = np.bincount(owners, minlength=n) >= NEAR_MIN_WORDS
    sig[~long_enough] = 0
    return sig


def _band_pairs(bucket: np.ndarray) -> np.ndarray:
    """(row << 32 | first) of the rows that share their value of one band with an earlier row."""
    rows = np.arange(len(bucket), dtype=np.int64)
    frame = pl.DataFrame({"bucket": bucket, "row": rows}).filter(pl.col("bucket") != 0)
    # Most buckets hold one record: leaving them out first makes the window over the rest small.
    frame = frame.filter(pl.col("bucket").is_duplicated())
    frame = frame.with_columns(pl.col("row").min().over("bucket").alias("first")).filter(
        pl.col("first") < pl.col("row")
    )
    return (frame["row"].to_numpy().astype(np.uint64) << np.uint64(32)) | frame["first"].to_numpy().astype(np.uint64)


def candidate_pairs(sig: np.ndarray, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """(row, first) of every record that shares all of one band's bin values with an earlier one,
    `first` the earliest record of that bucket (rows in record order)."""
    bands = sig.view(np.uint64)  # NEAR_ROWS = 4 bins of 16 bits: one band per 64-bit word
    assert NEAR_ROWS * 16 == 64 and bands.shape[1] == NEAR_BINS // NEAR_ROWS and len(sig) < 2**32
    packed = pool.map(_band_pairs, (np.ascontiguousarray(bands[:, band]) for band in range(bands.shape[1])))
    # A pair found by several bands once: one 64-bit number per pair is made unique far faster than
    # two columns (bench/README.md).
    pairs = pl.Series("pair", np.concatenate(list(packed)), pl.UInt64).unique().to_numpy()
    return pl.DataFrame(
        {"row": (pairs >> np.uint64(32)).astype(np.int64), "first": (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)}
    )


# 16-bit lanes of a 64-bit word: all but each lane's top bit.
_LOW15 = np.uint64(0x7FFF7FFF7FFF7FFF)


def _zero_lanes(words: np.ndarray) -> np.ndarray:
    """Per row of 64-bit words: how many of its 16-bit lanes are 0. A lane's top bit survives
    the expression only when the lane is 0; adding within a lane never carries into the next."""
    return np.bitwise_count(~(((words & _LOW15) + _LOW15) | words | _LOW15)).sum(axis=1, dtype=np.int64)


def _similar(sig: np.ndarray, chunk: pl.DataFrame) -> pl.DataFrame:
    words = sig.view(np.uint64)
    a, b = words[chunk["row"].to_numpy()], words[chunk["first"].to_numpy()]
    empty_both = _zero_lanes(a | b)
    equal = _zero_lanes(a ^ b) - empty_both  # equal values of bins that either fills (filled: not 0)
    either = NEAR_BINS - empty_both
    similarity = equal / np.maximum(either, 1)
    return chunk.with_columns(pl.Series("similarity", similarity)).filter(pl.col("similarity") >= NEAR_THRESHOLD)


def similar_pairs(sig: np.ndarray, pairs: pl.DataFrame, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """(row, first, similarity) of the pairs whose share of equal values among the bins either
    record fills is NEAR_THRESHOLD or more."""
    chunks = (pairs.slice(start, PAIRS_AT_ONCE) for start in range(0, len(pairs), PAIRS_AT_ONCE))
    found = list(pool.map(lambda chunk: _similar(sig, chunk), chunks))
    return pl.concat(found) if found else pairs.with_columns(pl.lit(0.0).alias("similarity"))


def near_duplicates(index: np.ndarray, signatures: np.ndarray, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """(record_index, detail) of each record whose answers are near-duplicates of an earlier
    record's (`index`: each signature's record index), the detail naming the earliest such record
    and the similarity."""
    order = np.argsort(index, kind="stable")  # a smaller row is then an earlier record
    index, signatures = index[order], signatures[order]
    similar = similar_pairs(signatures, candidate_pairs(signatures, pool), pool)
    nearest = similar.sort("row", "first").unique("row", keep="first", maintain_order=True)
    return pl.DataFrame(
        {
            "record_index": index[nearest["row"].to_numpy()],
            "detail": [
                f"answers like record {index[first]} (similarity {round(similarity, 2)})"
                for first, similarity in zip(nearest["first"], nearest["similarity"], strict=True)
            ],
        },
        schema={"record_index": pl.Int64, "detail": pl.String},
    )
