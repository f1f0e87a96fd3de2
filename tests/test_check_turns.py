"""The rules of svit/check/turns.py on one batch, without a warehouse: which turn or answer of a
record each rule names, and the n-gram arithmetic they rest on."""

import numpy as np
import polars as pl

from svit.check import near
from svit.check.turns import batch_findings, repeated_grams
from svit.check.words import doubled_grams, grams_in_texts, word_grams, words_of

LONG = " ".join(f"w{i}" for i in range(30))  # 30 distinct words, ends in a letter-digit


def conversation(answers: list[str | None]) -> list[dict[str, str | None]]:
    """A record whose questions are "Q." and whose answers are `answers`."""
    return [turn for a in answers for turn in ({"from": "human", "value": "Q."}, {"from": "gpt", "value": a})]


def findings(records: list[list[str | None]]) -> dict[tuple[int, str], str]:
    found, signatures = batch_findings(pl.Series([conversation(r) for r in records]).to_arrow(), np.zeros(len(records)))
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
        (3, "unanswered_last_turn"): "no turns",
        (4, "empty_turn"): "turn 1 is empty",
    }


def test_structure_rules_name_the_first_turn_that_breaks_them():
    human, gpt = "human", "gpt"

    def turns(*pairs):
        return [{"from": role, "value": value} for role, value in pairs]

    records = [
        turns((human, "<image>\nQ?"), (gpt, "A.")),  # clean, one image
        turns((human, "Q?"), (gpt, "   "), (human, ""), (gpt, "A.")),  # spaces only, then empty
        turns((human, "Q?"), (gpt, "A."), (gpt, "B."), (human, "Q?")),  # roles, then an open end
        turns((human, "<image> <image> Q?"), (gpt, "one <image> A.")),  # two tokens, an image in an answer
        turns((human, " Q? "), (gpt, "\tA.")),  # tabs and edge spaces are text
        turns((human, "<video> Q?"), (gpt, "A.")),  # a video's token, no medium
    ]
    found, _ = batch_findings(pl.Series(records).to_arrow(), np.array([1, 0, 0, 1, 0, 0]), "qwen2-vl")
    assert {(row, rule): detail for row, rule, detail in found.iter_rows()} == {
        (1, "empty_turn"): "turn 1 is empty",
        (2, "roles_not_alternating"): "turn 2 is from gpt",
        (2, "unanswered_last_turn"): "the last turn is from human",
        (3, "image_placeholders"): "2 <image> in the questions, 1 image (qwen2-vl)",
        (3, "image_in_answer"): "answer 1 holds <image>",
        (5, "image_placeholders"): "1 <image> in the questions, 0 images (qwen2-vl)",
    }
    # LLaVA-1.5 accepts an image without a token (it puts the image first), not more tokens than images.
    found, _ = batch_findings(pl.Series(records).to_arrow(), np.array([1, 1, 0, 1, 0, 0]), "llava-1.5")
    assert sorted(found.filter(pl.col("rule") == "image_placeholders")["row"]) == [3, 5]


def test_a_failure_detail_keeps_60_characters_of_the_answer_as_written():
    answer = "It Seems Like Your Message Is Empty. " + "é" * 80
    assert findings([[answer]])[(0, "failure_answer")] == f'answer 1: "{answer[:60]}"'


def test_repeats_are_ngrams_less_distinct_ngrams_per_answer():
    hashes = np.array([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 9, 9, 9, 9, 9], np.uint64)
    owners = np.array([0] * 12 + [1] * 5)
    grams, repeats = repeated_grams(*grams_in_texts(owners, hashes, 4), 3)
    # answer 0: 9 4-grams, 4 distinct; answer 1: 2 4-grams, both (9 9 9 9); answer 2: no words
    assert grams.tolist() == [9, 2, 0] and repeats.tolist() == [5, 1, 0]


def test_grams_from_the_shorter_ones_equal_grams_made_anew():
    hashes = np.random.default_rng(3).integers(0, 2**63, 50, dtype=np.uint64)
    four = word_grams(hashes, 4)
    assert np.array_equal(word_grams(hashes, 5, four), word_grams(hashes, 5))
    assert np.array_equal(doubled_grams(four, 4), word_grams(hashes, 8))


def test_words_are_cut_at_white_space_and_ascii_punctuation_and_lower_cased():
    owners, hashes = words_of(pl.Series(["The Cat's\tmat, (again)!", None, "", "  é-ÉTÉ  "]))
    expected = pl.Series(["the", "cat", "s", "mat", "again", "é", "ÉtÉ"]).hash(seed=0).to_numpy()
    assert owners.tolist() == [0, 0, 0, 0, 0, 3, 3] and np.array_equal(hashes, expected)


def test_texts_under_the_minimum_words_have_an_empty_signature():
    hashes = np.arange(1, 60, dtype=np.uint64)
    owners = np.array([0] * 19 + [1] * 40)
    shingle_owners, shingles = grams_in_texts(owners, hashes, 5)
    sig = near.signatures(shingle_owners, shingles, np.bincount(owners, minlength=3))
    assert not sig[0].any() and not sig[2].any()
    assert (sig[1] != 0).sum() > 20 and (sig[1][sig[1] != 0] % 2 == 1).all()
