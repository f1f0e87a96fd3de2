"""The answer rules of svit/check/answers.py on one batch, without a warehouse: which answer of a
record each rule names, and the n-gram arithmetic they rest on."""

import numpy as np
import polars as pl

from svit.check import near
from svit.check.answers import batch_findings, repeated_grams

LONG = " ".join(f"w{i}" for i in range(30))  # 30 distinct words, ends in a letter-digit


def findings(records: list[list[str | None]]) -> dict[tuple[int, str], str]:
    found, signatures = batch_findings(pl.Series(records, dtype=pl.List(pl.String)))
    assert signatures.shape == (len(records), 64)
    return {(row, rule): detail for row, rule, detail in found.iter_rows()}


def test_each_rule_names_the_first_answer_that_breaks_it():
    loop = "The cat sat down. " * 10  # 40 words, 37 4-grams of which 33 repeat
    got = findings(
        [
            ["Fine.", "Sorry. AS AN AI model I cannot", "I'm sorry, but no."],
            ["Short and ends in a word", LONG + ".", LONG, LONG + "  "],
            ["A fine answer.", loop],
            [],
            [None, "ok."],
        ]
    )
    assert got == {
        (0, "failure_answer"): 'answer 2: "Sorry. AS AN AI model I cannot"',
        (1, "truncated_answer"): "answer 3 ends mid-sentence",
        (2, "repetitive_answer"): "answer 2 repeats its word 4-grams",
    }


def test_a_failure_detail_keeps_60_characters_of_the_answer_as_written():
    answer = "It Seems Like Your Message Is Empty. " + "é" * 80
    assert findings([[answer]])[(0, "failure_answer")] == f'answer 1: "{answer[:60]}"'


def test_repeats_are_ngrams_less_distinct_ngrams_per_answer():
    hashes = np.array([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 9, 9, 9, 9, 9], np.uint64)
    owners = np.array([0] * 12 + [1] * 5)
    grams, repeats = repeated_grams(owners, near.word_grams(hashes, 4), 3)
    # answer 0: 9 4-grams, 4 distinct; answer 1: 2 4-grams, both (9 9 9 9); answer 2: no words
    assert grams.tolist() == [9, 2, 0] and repeats.tolist() == [5, 1, 0]


def test_grams_from_the_shorter_ones_equal_grams_made_anew():
    hashes = np.random.default_rng(3).integers(0, 2**63, 50, dtype=np.uint64)
    four = near.word_grams(hashes, 4)
    assert np.array_equal(near.word_grams(hashes, 5, four), near.word_grams(hashes, 5))


def test_texts_under_the_minimum_words_have_an_empty_signature():
    hashes = np.arange(1, 60, dtype=np.uint64)
    owners = np.array([0] * 19 + [1] * 40)
    sig = near.signatures(owners, hashes, 3)
    assert not sig[0].any() and not sig[2].any()
    assert (sig[1] != 0).sum() > 20 and (sig[1][sig[1] != 0] % 2 == 1).all()
