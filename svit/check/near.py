"""The near-duplicate rule: records whose answers are near-duplicates of an earlier record's.

One-permutation MinHash over word 5-gram shingles with locality-sensitive hashing (bands), kept
as 16-bit values per bin (b-bit MinHash). Each batch of records gets its signatures from its
words' hashes (svit/check/turns.py streams them), so no step holds more than a batch of
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

from svit.check.rules import NEAR_BINS, NEAR_MIN_WORDS, NEAR_ROWS, NEAR_THRESHOLD

PAIRS_AT_ONCE = 1_000_000


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (MurmurHash3's fmix64), in place: every output bit depends on every
    input bit. In place because fresh arrays of a batch's size cost more than the arithmetic."""
    shifted = np.empty_like(x)
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, None):
        np.right_shift(x, np.uint64(33), out=shifted)
        x ^= shifted
        if multiplier is not None:
            x *= np.uint64(multiplier)
    return x


def signatures(owners: np.ndarray, shingles: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(n, NEAR_BINS) uint16: the low 16 bits of each record's smallest shingle hash per bin
    (odd), 0 where the bin got no shingle or the record's answers have fewer than NEAR_MIN_WORDS
    words (then every bin is 0). `owners`: each shingle's record, `shingles`: word_grams of
    NEAR_SHINGLE words in a row of the record's answers; `words`: each record's number of answer
    words."""
    n = len(words)
    shingle = _mix(shingles.copy())
    at = (shingle & np.uint64(NEAR_BINS - 1)).view(np.int64)  # the bin: NEAR_BINS is a power of two
    at += owners * NEAR_BINS
    # The value's lowest bit set: its low 16 bits are then never 0, which marks an empty bin.
    shingle >>= np.uint64(NEAR_BINS.bit_length() - 1)
    shingle |= np.uint64(1)
    empty = np.iinfo(np.uint64).max
    lowest = np.full(n * NEAR_BINS, empty, np.uint64)
    np.minimum.at(lowest, at, shingle)
    lowest = lowest.reshape(n, NEAR_BINS)
    sig = lowest.astype(np.uint16)  # the low 16 bits of each bin's minimum
    sig[lowest == empty] = 0
    sig[words < NEAR_MIN_WORDS] = 0
    return sig


# 16-bit lanes of a 64-bit word: all but each lane's top bit.
_LOW15 = np.uint64(0x7FFF7FFF7FFF7FFF)


def _zero_lanes(words: np.ndarray) -> np.ndarray:
    """Per row of 64-bit words: how many of its 16-bit lanes are 0. A lane's top bit survives
    the expression only when the lane is 0; adding within a lane never carries into the next."""
    return np.bitwise_count(~(((words & _LOW15) + _LOW15) | words | _LOW15)).sum(axis=1, dtype=np.int64)


def _band_pairs(bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, first) of the rows that share their value of one band with an earlier row, `first`
    the earliest row of that bucket."""
    frame = pl.DataFrame({"bucket": bucket, "row": np.arange(len(bucket), dtype=np.int64)})
    # Most buckets hold one record: leaving them out first makes the window over the rest small.
    frame = frame.filter((pl.col("bucket") != 0) & pl.col("bucket").is_duplicated())
    frame = frame.with_columns(pl.col("row").min().over("bucket").alias("first")).filter(
        pl.col("first") < pl.col("row")
    )
    return frame["row"].to_numpy(), frame["first"].to_numpy()


def _similar(words: np.ndarray, row: np.ndarray, first: np.ndarray) -> pl.DataFrame:
    """(row, first, similarity) of the pairs of similarity NEAR_THRESHOLD or more."""
    a, b = words[row], words[first]
    empty_both = _zero_lanes(a | b)
    equal = _zero_lanes(a ^ b) - empty_both  # equal values of bins that either fills (filled: not 0)
    similarity = equal / np.maximum(NEAR_BINS - empty_both, 1)
    near = similarity >= NEAR_THRESHOLD
    return pl.DataFrame({"row": row[near], "first": first[near], "similarity": similarity[near]})


def _band_similar(words: np.ndarray, filled: np.ndarray, band: int) -> pl.DataFrame:
    """The similar pairs among those one band makes candidates."""
    row, first = _band_pairs(np.ascontiguousarray(words[:, band]))
    # Equal bins are at most the fewer filled, bins either fills at least the more: records whose
    # numbers of filled bins differ more than the threshold allows cannot be similar, and are not
    # compared (how many that rules out at full scale: bench/README.md, "svit check, third round").
    fewer, more = np.minimum(filled[row], filled[first]), np.maximum(filled[row], filled[first])
    keep = fewer >= NEAR_THRESHOLD * more
    row, first = row[keep], first[keep]
    found = [
        _similar(words, row[start : start + PAIRS_AT_ONCE], first[start : start + PAIRS_AT_ONCE])
        for start in range(0, len(row), PAIRS_AT_ONCE)
    ]
    return pl.concat(found) if found else _similar(words, row, first)


def similar_pairs(sig: np.ndarray, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """(row, first, similarity) of every record that shares all of one band's bin values with an
    earlier one (`first`: the earliest record of that bucket; rows in record order) and whose
    share of equal values among the bins either record fills is NEAR_THRESHOLD or more."""
    words = sig.view(np.uint64)  # NEAR_ROWS = 4 bins of 16 bits: one band per 64-bit word
    assert NEAR_ROWS * 16 == 64 and words.shape[1] == NEAR_BINS // NEAR_ROWS and len(sig) < 2**32
    filled = NEAR_BINS - _zero_lanes(words)
    found = pool.map(lambda band: _band_similar(words, filled, band), range(words.shape[1]))
    # A pair several bands find is compared by each (few are): only the similar ones are deduplicated.
    return pl.concat(list(found)).unique(["row", "first"])


def near_duplicates(index: np.ndarray, signatures: np.ndarray, pool: ThreadPoolExecutor) -> pl.DataFrame:
    """(record_index, detail) of each record whose answers are near-duplicates of an earlier
    record's (`index`: each signature's record index), the detail naming the earliest such record
    and the similarity."""
    order = np.argsort(index, kind="stable")  # a smaller row is then an earlier record
    index, signatures = index[order], signatures[order]
    similar = similar_pairs(signatures, pool)
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
