"""What `take` gives (at most what it asks; copies only under `upsample: true` or `repeat: k`),
how a short source is reported, and the per-answer and per-question filter columns, checked
against plain Python on the bundled sample's llava_v1_5_mix665k."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from svit.mix import build_mix
from svit.mix.recipe import FILTER_COLUMNS
from tests.helpers import LLAVA_MIX665K, TRUTH, llava_records_of_file, query, svit_cli
from tests.mix.test_mix_yes_no import python_rule

TAKE_RECIPE = """\
name: take_check
seed: 3
sources:
  - source: llava_v1_5_mix665k               # 1: the issue's example: the filter keeps 794 of 1,000
    take: 1000
    filter: gpt_words > 20
  - source: llava_v1_5_mix665k               # 2: the same, with copies asked for
    take: 1000
    filter: gpt_words > 20
    upsample: true
  - source: llava_svit_detail_description    # 3: every record picked, three times
    take: 5
    repeat: 3
  - source: llava_v1_5_mix665k               # 4: first:N is at most N too
    take: first:1000
    filter: image_prefix = 'none'
  - source: llava_svit_detail_description    # 5: within what the filter keeps: not short
    take: 10
"""

# Each filter of WORDS_RECIPE, in order, with the same predicate in Python over `measures`
# (a null, None here, compares false, as in SQL).
WORD_FILTERS = [
    ("gpt_words > 20", lambda m: m["gpt_words"] > 20),
    ("gpt_words > 20 and min_answer_words = 1", lambda m: m["gpt_words"] > 20 and m["min_answer_words"] == 1),
    ("gpt_words > 20 and min_answer_words > 1", lambda m: m["gpt_words"] > 20 and (m["min_answer_words"] or 0) > 1),
    ("min_answer_words > 20", lambda m: (m["min_answer_words"] or 0) > 20),
    ("max_answer_words <= 1", lambda m: m["max_answer_words"] is not None and m["max_answer_words"] <= 1),
    ("answers >= 5", lambda m: m["answers"] >= 5),
    ("answers = 1 and max_answer_words = 1", lambda m: m["answers"] == 1 and m["max_answer_words"] == 1),
    ("min_question_words <= 4", lambda m: m["min_question_words"] is not None and m["min_question_words"] <= 4),
    ("max_question_words >= 40", lambda m: (m["max_question_words"] or 0) >= 40),
    ("yes_no = 'yes'", lambda m: m["yes_no"] == "yes"),
    ("yes_no = 'no'", lambda m: m["yes_no"] == "no"),
]
WORDS_RECIPE = "name: words_check\nsources:\n" + "".join(
    f"  - source: llava_v1_5_mix665k\n    take: all\n    filter: {f}\n" for f, _ in WORD_FILTERS
)

WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")  # the statistics' word (macros/word_count.sql)


def words(text: str, token_is_a_word: bool = False) -> int:
    return len(WORD.findall(text if token_is_a_word else text.replace("<image>", " ")))


def measures(record: dict, token_is_a_word: bool = False) -> dict:
    """The filter columns of a record, as docs/mixes.md defines them."""
    answers = [t["value"] for t in record["conversations"] if t["from"] == "gpt"]
    questions = [t["value"] for t in record["conversations"] if t["from"] == "human"]
    per_answer = [words(a, token_is_a_word) for a in answers]
    per_question = [words(q, token_is_a_word) for q in questions]
    return {
        "gpt_words": sum(len(a.strip(" ").split(" ")) for a in answers),  # the total, split on single spaces
        "answers": len(answers),
        "min_answer_words": min(per_answer, default=None),
        "max_answer_words": max(per_answer, default=None),
        "min_question_words": min(per_question, default=None),
        "max_question_words": max(per_question, default=None),
        "yes_no": python_rule(answers[0]) if answers else None,
    }


@pytest.fixture(scope="module")
def take_mix(built_sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("take") / "take_check.yml"
    path.write_text(TAKE_RECIPE)
    result = build_mix(built_sample, str(path))
    rows = query(
        built_sample, "select source_number, source_record_index, repeat_index from take_check order by record_order"
    )
    return path, result, rows


@pytest.fixture(scope="module")
def mix665k():
    return llava_records_of_file(LLAVA_MIX665K)


def test_take_n_is_at_most_n_and_a_short_source_says_by_how_many(take_mix, mix665k):
    _, result, rows = take_mix
    kept = {i for i, r in enumerate(mix665k) if measures(r)["gpt_words"] > 20}
    assert len(kept) == 794
    first = result.manifest["sources"][0]
    assert {k: first[k] for k in ("filtered", "asked", "selected", "upsampled", "short_by", "upsample", "repeat")} == {
        "filtered": 794,
        "asked": 1000,
        "selected": 794,
        "upsampled": 0,
        "short_by": 206,
        "upsample": False,
        "repeat": None,
    }
    picked = [(i, copy) for n, i, copy in rows if n == 1]
    assert sorted(i for i, _ in picked) == sorted(kept) and {copy for _, copy in picked} == {0}  # each once
    fourth = result.manifest["sources"][3]
    text_only = TRUTH["llava_mix665k"]["records_without_image"]
    assert (fourth["take"], fourth["selected"], fourth["short_by"]) == ("first:1000", text_only, 1000 - text_only)
    fifth = result.manifest["sources"][4]
    assert (fifth["asked"], fifth["selected"], fifth["short_by"]) == (10, 10, 0)
    assert result.manifest["records"] == 794 + 1000 + 15 + text_only + 10


def test_upsample_true_fills_the_count_with_copies(take_mix):
    _, result, rows = take_mix
    second = result.manifest["sources"][1]
    assert (second["selected"], second["upsampled"], second["short_by"], second["upsample"]) == (1000, 206, 0, True)
    copies = Counter(i for n, i, _ in rows if n == 2)
    assert len(copies) == 794 and Counter(copies.values()) == {1: 794 - 206, 2: 206}


def test_repeat_gives_every_record_picked_k_times(take_mix):
    _, result, rows = take_mix
    third = result.manifest["sources"][2]
    assert (third["asked"], third["selected"], third["upsampled"], third["short_by"], third["repeat"]) == (
        5,
        15,
        10,
        0,
        3,
    )
    copies = Counter(i for n, i, _ in rows if n == 3)
    assert len(copies) == 5 and set(copies.values()) == {3}
    # Originals first, then the copies, each copy in the same order.
    order = [(copy, i) for n, i, copy in rows if n == 3]
    assert order == sorted(order)


def test_the_command_and_the_stored_manifest_say_the_source_ran_short(take_mix, built_sample):
    path, _, _ = take_mix
    proc = svit_cli("mix", str(path), "--warehouse", str(built_sample.root))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"take_check: {794 + 1000 + 15 + TRUTH['llava_mix665k']['records_without_image'] + 10:,} records"
    assert lines[1] == (
        "  llava_v1_5_mix665k               available     1,847  filtered       794  selected       794  "
        "upsampled         0  short by 206"
    )
    assert lines[2].endswith("selected     1,000  upsampled       206")  # filled: not short
    assert lines[4].endswith("short by 887")  # first:1000 of 113 text-only records
    [(stored,)] = query(built_sample, "select manifest from mix_manifests where mix = 'take_check'")
    assert [s["short_by"] for s in json.loads(stored)["sources"]] == [206, 0, 0, 887, 0]


def test_per_answer_and_per_question_filters_equal_python(built_sample, tmp_path, mix665k):
    path = tmp_path / "words_check.yml"
    path.write_text(WORDS_RECIPE)
    result = build_mix(built_sample, str(path))
    rows = query(built_sample, "select source_number, source_record_index from words_check")
    expected_sizes = []
    for number, (text, predicate) in enumerate(WORD_FILTERS, 1):
        got = sorted(i for n, i in rows if n == number)
        want = [i for i, r in enumerate(mix665k) if predicate(measures(r))]
        assert got == want, text
        expected_sizes.append(len(want))
    assert [s["filtered"] for s in result.manifest["sources"]] == expected_sizes
    # The issue: a total over all answers lets records with one-word answers through; the
    # per-answer measure does not.
    assert expected_sizes[:4] == [794, 34, 760, 473]
    # `<image>` is not a word: counted as one, 83 records would have a question of <= 4 words, not 96.
    [(number, predicate)] = [(n, p) for n, (f, p) in enumerate(WORD_FILTERS) if f == "min_question_words <= 4"]
    assert expected_sizes[number] == 96
    assert sum(predicate(measures(r, token_is_a_word=True)) for r in mix665k) == 83
    # Records whose first answer is a Yes / No answer (docs/statistics.md: 204 / 253 answers).
    assert expected_sizes[-2:] == [74, 80]


def test_the_help_describes_every_filter_column():
    proc = svit_cli("mix", "--help")
    assert proc.returncode == 0
    own = FILTER_COLUMNS.split("source_position bigint, ", 1)[1]  # the mix's own columns come before
    for column in (c.split()[0] for c in own.split(", ")):
        assert re.search(rf"^\s+(\S+, )?{column}\b", proc.stdout, re.M), column
