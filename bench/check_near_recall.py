"""How often `svit check`'s near-duplicate rule finds a planted near-duplicate.

For each number of changed words, PAIRS answers of 100 random words each get a copy with that
many words replaced; every answer is a record of one question and one answer, all in one model.
Prints, per number of changed words, the mean exact Jaccard similarity of the pairs' 5-word
shingles, the share of copies reported as near-duplicates of their original, and how many
reports name any other record (unrelated answers: none expected).

    python bench/check_near_recall.py --pairs 200
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from svit.check import near
from svit.check.turns import batch_findings
from svit.check.words import grams_in_texts, words_of

VOCABULARY = [f"w{i}" for i in range(50_000)]


def planted(rng: np.random.Generator, pairs: int, changed: int) -> list[str]:
    """2 * pairs answers: each original followed by its copy with `changed` words replaced."""
    answers = []
    for _ in range(pairs):
        words = list(rng.choice(VOCABULARY, 100))
        copy = list(words)
        for at in rng.choice(100, changed, replace=False):
            copy[at] = f"x{rng.integers(1 << 40)}"
        answers += [" ".join(words), " ".join(copy)]
    return answers


def jaccard(a: str, b: str) -> float:
    x, y = (set(grams_in_texts(*words_of(pl.Series([t])), 5)[1].tolist()) for t in (a, b))
    return len(x & y) / len(x | y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("| words changed | mean similarity | copies found | other reports |")
    print("|---|---|---|---|")
    with ThreadPoolExecutor(2) as pool:
        for changed in (1, 2, 3, 5):
            answers = planted(rng, args.pairs, changed)
            records = [[{"from": "human", "value": "Describe."}, {"from": "gpt", "value": a}] for a in answers]
            _, signatures = batch_findings(pl.Series(records).to_arrow(), np.ones(len(records), np.int64))
            found = near.near_duplicates(np.arange(len(records)), signatures, pool)
            firsts = found["detail"].str.extract(r"record (\d+)").cast(pl.Int64)
            rows = found["record_index"]
            copies = ((rows % 2 == 1) & (firsts == rows - 1)).sum()
            similarity = np.mean([jaccard(answers[i], answers[i + 1]) for i in range(0, len(answers), 2)])
            print(f"| {changed} | {similarity:.2f} | {copies / args.pairs:.1%} | {len(found) - copies} |")


if __name__ == "__main__":
    main()
