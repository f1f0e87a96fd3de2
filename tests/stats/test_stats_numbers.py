"""The statistics on the bundled sample equal what plain Python computes from its files."""

from __future__ import annotations

import random
import re
import statistics
import unicodedata
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from svit.core import word_counts as word_count_module
from svit.core.facts import DETAIL_QUESTIONS, TASKS
from svit.core.macros import render_with_macros
from svit.core.word_counts import word_counts
from tests.helpers import LLAVA_MIX665K, TRUTH, llava_records_of_file, query, sample_task_items

WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")  # the analyses' word: a run of non-whitespace
IMAGE = "<image>"  # LLaVA's image token: never a word, it separates the text around it


def words(text: str) -> int:
    return len(WORD.findall(text.replace(IMAGE, " ")))


def word_count_sql(column: str) -> str:
    """macros/word_count.sql's expression on `column`, the macro files loaded as svit stats loads them."""
    return render_with_macros(f"{{{{ word_count('{column}') }}}}")


def count_words_in_sql(texts: list[str | None]) -> list[int | None]:
    con = duckdb.connect()
    return [
        n
        for _, n in con.execute(
            f"select i, {word_count_sql('t')} from (select unnest(?::varchar[]) as t, "
            "generate_subscripts(?::varchar[], 1) as i) order by i",
            [texts, texts],
        ).fetchall()
    ]


def yes_no_answer(text: str) -> str | None:
    """The Yes/No rule (macros/yes_no.sql, docs/statistics.md): yes / no in any case, then the end or
    a character that is not a letter, mark or digit (Unicode L, M, N)."""
    for word in ("yes", "no"):
        rest = text[len(word) :]
        if text[: len(word)].lower() == word and (not rest or unicodedata.category(rest[0])[0] not in "LMN"):
            return word
    return None


def blocks(task: str) -> list[list[dict]]:
    return [block["content"] for item in sample_task_items(task) for block in item["conversations"]]


def dist(report, table: str, scope: str, measure: str) -> dict:
    rows = [r for r in report.tables[table].dicts() if r["scope"] == scope and r["measure"] == measure]
    assert len(rows) == 1, (scope, measure)
    return rows[0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<image>\nWhat is it?", 3),
        ("What?\n<image>", 1),
        ("<image>", 0),
        ("<image>\n", 0),
        ("\n<image>", 0),
        ("", 0),
        (None, None),
        ("What is it?", 3),
        ("What is it?\nA cat.", 5),
        ("<image>\n<image>\nTwo images?", 2),  # two tokens: the regex path
        ("a<image>b", 2),  # the token separates, as LLaVA's tokenizer_image_token cuts the text
        ("<image>What", 1),
        ("<image> What  is\tit?", 3),
        ("What is it?\n<image>\n", 3),
        (" Hi\n\nthere ", 2),
        ("<imag e>", 2),  # not the token
    ],
)
def test_word_count_never_counts_the_image_token(text, expected):
    # The macro, and ingest's count of each SVIT turn (svit/core/word_counts.py).
    assert count_words_in_sql([text]) == [expected]
    assert word_counts(pa.array([text], pa.string())).to_pylist() == [expected]


def test_word_count_equals_python_on_generated_texts():
    """Every path of the macro (no token, one token at either end, anything else) against Python."""
    rng = random.Random(7)
    pieces = ["<image>", "<image>\n", "\n<image>", "word", "é中", " ", "  ", "\n", "\n\n", "\t", "\r", "<imag", "e>"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(5000)]
    assert count_words_in_sql(texts) == [words(t) for t in texts]


@pytest.mark.parametrize("array_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_ingest_counts_words_as_the_macro_does(array_type):
    """svit/core/word_counts.py reads eight bytes at a time: texts of every length and start
    within a word of 8 bytes (sliced arrays start anywhere in their buffer), every ASCII
    whitespace byte and its neighbours, bytes above 127 (never whitespace: NEL, NBSP), `<`
    and `<i` that are no token, and the token itself anywhere."""
    rng = random.Random(11)
    pieces = ["w", "word", "é", "中", "😀", " ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x08", "\x0e", "\x1f"]
    pieces += ["!", "\x7f", "\x85", "\xa0", "<", "<i", "<image", "<image>", "image>", "<st>", "<ed>"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(20000)]
    texts += [None, "", " " * 17, "x" * 64, "<image>" * 3, "a" + " " * 15 + "b"]
    expected = [None if t is None else words(t) for t in texts]
    assert count_words_in_sql(texts[:3000]) == expected[:3000]
    array = pa.array(texts, array_type)
    for start in range(9):
        assert word_counts(array.slice(start)).to_pylist() == expected[start:], start
    chunked = pa.chunked_array([array.slice(0, 7), array.slice(7)])
    assert word_counts(chunked).to_pylist() == expected
    assert word_counts(pa.array([], array_type)).to_pylist() == []


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


@pytest.mark.parametrize("kind, svit_role", [("question", "user"), ("answer", "gpt")])
@pytest.mark.parametrize("task", TASKS)
def test_words_per_question_and_answer_equal_python(default_report, task, kind, svit_role):
    counts = [words(turn["value"]) for content in blocks(task) for turn in content if turn["from"] == svit_role]
    row = dist(default_report, "svit_text_lengths", task, f"{kind} words")
    assert row["n"] == len(counts)
    assert row["mean"] == pytest.approx(statistics.fmean(counts), rel=1e-12)
    assert row["std"] == pytest.approx(statistics.stdev(counts), rel=1e-9)
    assert (row["min"], row["max"]) == (min(counts), max(counts))
    cuts = statistics.quantiles(counts, n=20, method="inclusive")  # 5%, 10%, ... 95%
    assert [row["p5"], row["p25"], row["p50"], row["p75"], row["p95"]] == pytest.approx(
        [cuts[0], cuts[4], cuts[9], cuts[14], cuts[18]]
    )
    assert len(row["hist_counts"]) == 10 and sum(row["hist_counts"]) == len(counts)
    lo, span = min(counts), max(counts) - min(counts)  # 10 equal-width bins, the last one closed
    expected = Counter(min(10 * (w - lo) // span, 9) if span else 0 for w in counts)
    assert row["hist_counts"] == [expected.get(b, 0) for b in range(10)]


def test_characters_equal_ground_truth(default_report):
    for task in TASKS:
        for kind, role in (("question", "user"), ("answer", "gpt")):
            row = dist(default_report, "svit_text_lengths", task, f"{kind} chars")
            assert round(row["mean"] * row["n"]) == TRUTH["chars_per_task"][task][role]


def test_yes_no_equal_ground_truth_and_python(default_report):
    yes_no = {r["task"]: r for r in default_report.tables["svit_yes_no"].dicts()}
    truth = TRUTH["complex_reasoning_answers_starting"]
    assert yes_no["complex_reasoning"]["yes_answers"] == truth["yes"]
    assert yes_no["complex_reasoning"]["no_answers"] == truth["no"]
    for task in TASKS:
        answers = [t["value"] for c in blocks(task) for t in c if t["from"] == "gpt"]
        classes = Counter(yes_no_answer(a) for a in answers)
        row = yes_no[task]
        assert (row["answers"], row["yes_answers"], row["no_answers"]) == (len(answers), classes["yes"], classes["no"])


def test_yes_no_per_model_counts_every_answer(default_report):
    """llava_yes_no counts answers (every gpt turn), where a mix counts records by their first answer."""
    rows = {r["model"]: r for r in default_report.tables["llava_yes_no"].dicts()}
    records = llava_records_of_file(LLAVA_MIX665K)
    answers = [t["value"] for r in records for t in r["conversations"] if t["from"] == "gpt"]
    classes = Counter(yes_no_answer(a) for a in answers)
    row = rows["llava_v1_5_mix665k"]
    assert (row["answers"], row["yes_answers"], row["no_answers"]) == (len(answers), classes["yes"], classes["no"])
    assert row["yes_share"] == pytest.approx(classes["yes"] / (classes["yes"] + classes["no"]))
    # The two units differ on this file (docs/statistics.md): 204 / 253 answers, 74 / 80 records by
    # their first answer, as a mix of it counts them (tests/mix/test_mix_yes_no.py checks the mix's rule).
    assert (classes["yes"], classes["no"]) == (204, 253)
    first = Counter(
        yes_no_answer(next((t["value"] for t in r["conversations"] if t["from"] == "gpt"), "")) for r in records
    )
    assert (first["yes"], first["no"]) == (74, 80)


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


def test_llava_question_words_leave_out_the_image_token(built_sample, default_report):
    """A question's `<image>` is not a word: each question loses the tokens it holds (they stand
    alone, at its start or end), so llava_svit_all's questions lose one word per record."""
    for model, records in (
        ("llava_v1_5_mix665k", llava_records_of_file(LLAVA_MIX665K)),
        (
            "llava_svit_all",
            [{"conversations": c} for (c,) in query(built_sample, "select conversations from llava_svit_all")],
        ),
    ):
        questions = [t["value"] for r in records for t in r["conversations"] if t["from"] == "human"]
        row = dist(default_report, "llava_text_lengths", model, "question words")
        assert row["n"] == len(questions)
        assert row["mean"] == pytest.approx(statistics.fmean(words(q) for q in questions), rel=1e-12)
        with_token = sum(len(WORD.findall(q)) for q in questions)
        tokens = sum(q.count(IMAGE) for q in questions)
        assert round(row["mean"] * row["n"]) == with_token - tokens
    # The figures of docs/statistics.md: 16.2 words per question (16.9 with the token counted).
    assert tokens == len(records) == 8599 and row["n"] == 11974
    assert (round(row["mean"], 1), round(with_token / row["n"], 1)) == (16.2, 16.9)


def test_llava_svit_all_counts_every_block(default_report):
    sizes = {r["model"]: r for r in default_report.tables["llava_model_sizes"].dicts()}["llava_svit_all"]
    assert sizes["records"] == sum(TRUTH["blocks_per_task"].values())
    assert sizes["qa_pairs"] == TRUTH["qa_pairs_total"]


def test_word_counts_compile_where_no_cache_can_be_written():
    """Numba refuses `cache=True` for code it has no writable place to cache for (here: code
    with no file at all); the module then compiles in each process instead of failing."""
    import svit.core.word_counts as module

    namespace: dict = {"__name__": "svit_word_counts_without_a_file"}
    exec(compile(Path(module.__file__).read_text(), "<no file>", "exec"), namespace)
    assert namespace["word_counts"](pa.array(["a b", "<image>\nc d e", None])).to_pylist() == [2, 3, None]


def test_the_word_counter_loads_on_a_thread_of_its_own():
    # Loaded while a command waits for dbt: afterwards the compiled loop is there to call.
    word_count_module.load_in_background().join()
    assert word_count_module._count.signatures
    assert word_counts(pa.array(["two words", None, "<image>\nthree more words"])).to_pylist() == [2, None, 3]
