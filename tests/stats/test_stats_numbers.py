"""The statistics on the bundled sample equal what plain Python computes from its files."""

from __future__ import annotations

import re
import statistics
from collections import Counter

import pytest

from svit.core.facts import DETAIL_QUESTIONS, TASKS
from tests.helpers import LLAVA_MIX665K, TRUTH, llava_records_of_file, sample_task_items

WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")  # the analyses' word: a run of non-whitespace


def words(text: str) -> int:
    return len(WORD.findall(text))


def first_word_yes_no(text: str) -> str | None:
    match = re.match(r"(yes|no)(?![a-z])", text[:4].lower())
    return match.group(1) if match else None


def blocks(task: str) -> list[list[dict]]:
    return [block["content"] for item in sample_task_items(task) for block in item["conversations"]]


def dist(report, table: str, scope: str, measure: str) -> dict:
    rows = [r for r in report.tables[table].dicts() if r["scope"] == scope and r["measure"] == measure]
    assert len(rows) == 1, (scope, measure)
    return rows[0]


def test_task_sizes_equal_ground_truth(default_report):
    sizes = {r["task"]: r for r in default_report.tables["svit_task_sizes"].dicts()}
    assert list(sizes) == list(TASKS)
    for task in TASKS:
        assert sizes[task]["records"] == TRUTH["blocks_per_task"][task]
        assert sizes[task]["turns"] == TRUTH["turns_per_task"][task]
        assert sizes[task]["qa_pairs"] == TRUTH["qa_pairs_per_task"][task]
        assert sizes[task]["images"] == TRUTH["images_per_task"][task]


def test_boxes_total_equals_ground_truth(default_report):
    border = default_report.tables["svit_box_border"].dicts()
    assert sum(r["boxes"] for r in border) == TRUTH["boxes_total"]
    per_turn = dist(default_report, "svit_boxes", "referring_qa", "boxes per turn")
    assert round(per_turn["mean"] * per_turn["n"]) == TRUTH["boxes_total"]
    assert per_turn["n"] == TRUTH["turns_per_task"]["referring_qa"]


@pytest.mark.parametrize("task", TASKS)
def test_words_per_answer_equal_python(default_report, task):
    answers = [words(turn["value"]) for content in blocks(task) for turn in content if turn["from"] == "gpt"]
    row = dist(default_report, "svit_text_lengths", task, "answer words")
    assert row["n"] == len(answers)
    assert row["mean"] == pytest.approx(statistics.fmean(answers), rel=1e-12)
    assert row["std"] == pytest.approx(statistics.stdev(answers), rel=1e-9)
    assert (row["min"], row["max"]) == (min(answers), max(answers))
    cuts = statistics.quantiles(answers, n=20, method="inclusive")  # 5%, 10%, ... 95%
    assert [row["p5"], row["p25"], row["p50"], row["p75"], row["p95"]] == pytest.approx(
        [cuts[0], cuts[4], cuts[9], cuts[14], cuts[18]]
    )
    assert len(row["hist_counts"]) == 10 and sum(row["hist_counts"]) == len(answers)
    lo, span = min(answers), max(answers) - min(answers)  # 10 equal-width bins, the last one closed
    expected = Counter(min(10 * (w - lo) // span, 9) if span else 0 for w in answers)
    assert row["hist_counts"] == [expected.get(b, 0) for b in range(10)]


def test_characters_equal_ground_truth(default_report):
    for task in TASKS:
        for kind, role in (("question", "user"), ("answer", "gpt")):
            row = dist(default_report, "svit_text_lengths", task, f"{kind} chars")
            assert round(row["mean"] * row["n"]) == TRUTH["chars_per_task"][task][role]


def test_yes_no_equal_ground_truth_and_python(default_report):
    yes_no = {r["task"]: r for r in default_report.tables["svit_yes_no"].dicts()}
    truth = TRUTH["complex_reasoning_answers_starting"]
    assert yes_no["complex_reasoning"]["starting_yes"] == truth["yes"]
    assert yes_no["complex_reasoning"]["starting_no"] == truth["no"]
    for task in TASKS:
        starts = Counter(first_word_yes_no(t["value"]) for c in blocks(task) for t in c if t["from"] == "gpt")
        assert (yes_no[task]["starting_yes"], yes_no[task]["starting_no"]) == (starts["yes"], starts["no"])


def test_duplicate_questions_equal_python(default_report):
    rows = {(r["task"], r["kind"]): r for r in default_report.tables["svit_duplicates"].dicts()}
    for task in TASKS:
        questions = Counter(t["value"] for c in blocks(task) for t in c if t["from"] == "user")
        row = rows[(task, "question")]
        assert row["distinct_texts"] == len(questions)
        assert row["repeated_texts"] == sum(1 for n in questions.values() if n > 1)
        assert row["repeats"] == sum(questions.values()) - len(questions)


def test_detail_instruction_usage_sums_to_detail_records(default_report):
    rows = default_report.tables["svit_detail_instructions"].dicts()
    assert [r["question"] for r in rows if r["listed"]] == list(DETAIL_QUESTIONS)
    assert sum(r["records"] for r in rows) == TRUTH["blocks_per_task"]["detail_description"]
    asked = Counter(c[0]["value"].strip() for c in blocks("detail_description"))
    assert {r["question"]: r["records"] for r in rows if r["records"]} == dict(asked)


def test_image_prefixes_equal_ground_truth(default_report):
    rows = default_report.tables["llava_image_prefixes"].dicts()
    for model, truth in (
        ("llava_v1_5_mix665k", TRUTH["llava_mix665k"]["records_per_image_prefix"]),
        ("svit_mix_665k", TRUTH["svit_mix_665k"]["records_per_image_prefix"]),
    ):
        assert {r["image_prefix"]: r["records"] for r in rows if r["model"] == model} == truth


def test_llava_file_sizes_and_modality_equal_python(default_report):
    records = llava_records_of_file(LLAVA_MIX665K)
    sizes = {r["model"]: r for r in default_report.tables["llava_model_sizes"].dicts()}["llava_v1_5_mix665k"]
    assert sizes["records"] == TRUTH["llava_mix665k"]["records"] == len(records)
    assert sizes["turns"] == sum(len(r["conversations"]) for r in records)
    text_only = [r for r in records if "image" not in r]
    assert sizes["text_only"] == len(text_only)
    # LLaVA's modality_lengths: the words of all turns, grouped by whether the record has an image.
    for measure, group in (
        ("record words (text-only)", text_only),
        ("record words (image)", [r for r in records if "image" in r]),
    ):
        lengths = [sum(words(t["value"]) for t in r["conversations"]) for r in group]
        row = dist(default_report, "llava_text_lengths", "llava_v1_5_mix665k", measure)
        assert row["n"] == len(lengths)
        assert row["mean"] == pytest.approx(statistics.fmean(lengths), rel=1e-12)
    answers = [words(t["value"]) for r in records for t in r["conversations"] if t["from"] == "gpt"]
    row = dist(default_report, "llava_text_lengths", "llava_v1_5_mix665k", "answer words")
    assert row["mean"] == pytest.approx(statistics.fmean(answers), rel=1e-12)


def test_llava_svit_all_counts_every_block(default_report):
    sizes = {r["model"]: r for r in default_report.tables["llava_model_sizes"].dicts()}["llava_svit_all"]
    assert sizes["records"] == sum(TRUTH["blocks_per_task"].values())
    assert sizes["qa_pairs"] == TRUTH["qa_pairs_total"]
