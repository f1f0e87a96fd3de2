"""One Yes/No rule (macros/yes_no.sql) for the mixes and the statistics: both classify the same
texts the same way, and each output says what it counts (records by their first answer in
`svit mix`, every answer in `svit stats`)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator

import duckdb
import pytest

from svit.core.session import open_session
from svit.core.warehouse import Warehouse
from svit.mix import build_mix, drop_mix
from svit.mix.drop import user_mixes
from svit.stats import run_stats
from svit.stats.analyses import analysis_variables, run_analysis
from svit.stats.models import ModelChoice
from tests.helpers import query, svit_cli

# The rule, decided: the text begins with yes / no in any case, then ends or goes on with a
# character that is not a letter, a combining mark or a digit.
TEXTS = [
    ("Yes.", "yes"),
    ("yes,", "yes"),
    ("YES", "yes"),
    ("Yes", "yes"),
    ("Yes, the man is holding an umbrella.", "yes"),
    ("Yes\nThe sign is red.", "yes"),
    ("yes-or-no", "yes"),
    ("yes_no", "yes"),
    ("yes1", None),
    ("yes½", None),
    ("Yesterday it rained.", None),
    (" yes", None),
    ("No", "no"),
    ("no!", "no"),
    ("NO.", "no"),
    ("No, the cat is asleep.", "no"),
    ("no2", None),
    ("Nope", None),
    ("Not at all.", None),
    ("Noé", None),
    ("No\u0301", None),
    ("Maybe yes.", None),
    ("", None),
    ("N", None),
]
# Records with two answers: only the first counts for a mix, both for the statistics.
TWO_ANSWERS = [("Because it rains.", "Yes."), ("No, never.", "yes")]


def python_rule(text: str) -> str | None:
    """docs/mixes.md's rule in Python: Unicode categories L, M and N continue a word."""
    for word in ("yes", "no"):
        rest = text[len(word) :]
        if text[: len(word)].lower() == word and (not rest or unicodedata.category(rest[0])[0] not in "LMN"):
            return word
    return None


def conversations(*answers: str) -> list[dict]:
    turns = []
    for n, answer in enumerate(answers):
        turns += [
            {"from": "human", "value": ("<image>\n" if n == 0 else "") + "Is it so?"},
            {"from": "gpt", "value": answer},
        ]
    return turns


@pytest.fixture(scope="module")
def texts_warehouse(built_sample) -> Iterator[Warehouse]:
    """The built sample with the texts as models: `yes_no_texts` (one record per text, then the
    two-answer records) and `yes_no_text_NN` (one record each); removed afterwards, with the
    mixes built from them."""
    records = [conversations(text) for text, _ in TEXTS] + [conversations(*pair) for pair in TWO_ANSWERS]
    tables = ["yes_no_texts", *(f"yes_no_text_{i:02d}" for i in range(len(TEXTS)))]
    create = (
        "create table {} as select id, null::varchar as image, "
        'from_json(conversations, \'[{{"from": "VARCHAR", "value": "VARCHAR"}}]\') as conversations, '
        "record_order from (values {}) as t(id, conversations, record_order)"
    )
    con = duckdb.connect(str(built_sample.duckdb_path))
    try:
        values = ", ".join(f"('r{i}', {sql_text(json.dumps(c))}, {i})" for i, c in enumerate(records))
        con.execute(create.format(tables[0], values))
        for i, (text, _) in enumerate(TEXTS):
            con.execute(create.format(tables[i + 1], f"('r{i}', {sql_text(json.dumps(conversations(text)))}, 0)"))
    finally:
        con.close()
    yield built_sample
    for mix in ("yes_no_rule", "yes_no_all"):
        if mix in user_mixes(built_sample):
            drop_mix(built_sample, mix)
    con = duckdb.connect(str(built_sample.duckdb_path))
    try:
        for name in tables:
            con.execute(f"drop table if exists {name}")
    finally:
        con.close()


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def test_the_rule_as_decided():
    assert [python_rule(text) for text, _ in TEXTS] == [expected for _, expected in TEXTS]


def test_a_mix_classifies_each_record_by_the_rule_of_its_first_answer(texts_warehouse, tmp_path):
    recipe = tmp_path / "yes_no_rule.yml"
    recipe.write_text(
        "name: yes_no_rule\nsources:\n"
        "  - source: yes_no_texts\n    filter: yes_no = 'yes'\n"
        "  - source: yes_no_texts\n    filter: yes_no = 'no'\n"
        "  - source: yes_no_texts\n    filter: yes_no is null\n"
    )
    result = build_mix(texts_warehouse, str(recipe))
    rows = query(texts_warehouse, "select source_number, source_record_index from yes_no_rule")
    classes = {i: {1: "yes", 2: "no", 3: None}[n] for n, i in rows}
    first_answers = [text for text, _ in TEXTS] + [first for first, _ in TWO_ANSWERS]
    assert len(rows) == len(first_answers)  # every record in exactly one class
    assert [classes[i] for i in range(len(first_answers))] == [python_rule(t) for t in first_answers]
    # The coverage (and `svit mix`'s output) counts the same records.
    mine = result.manifest["coverage"]["mixes"]["yes_no_rule"]
    assert (mine["yes_records"], mine["no_records"]) == (8, 5)  # the 8 and 4 of TEXTS, and "No, never."
    assert result.manifest["coverage"]["yes_no"].startswith("records whose first answer is a Yes / No answer")


def test_the_statistics_classify_each_answer_by_the_same_rule(texts_warehouse):
    per_text = [f"yes_no_text_{i:02d}" for i in range(len(TEXTS))]
    choice = ModelChoice([*per_text, "yes_no_texts"], [])
    session = open_session(texts_warehouse, models=True)
    try:
        table = run_analysis(session.con, "llava_yes_no", analysis_variables(choice, set()))
    finally:
        session.close()
    rows = {r["model"]: r for r in table.dicts()}
    for model, (text, _) in zip(per_text, TEXTS, strict=True):
        got = {(1, 0): "yes", (0, 1): "no", (0, 0): None}[(rows[model]["yes_answers"], rows[model]["no_answers"])]
        assert got == python_rule(text), repr(text)
    # Every answer counts: the second answers of TWO_ANSWERS too ("Yes.", "yes").
    everything = rows["yes_no_texts"]
    assert (everything["answers"], everything["yes_answers"], everything["no_answers"]) == (len(TEXTS) + 4, 10, 5)
    assert everything["yes_share"] == pytest.approx(10 / 15)


def test_each_output_names_what_it_counts(texts_warehouse, tmp_path):
    recipe = tmp_path / "yes_no_all.yml"
    recipe.write_text("name: yes_no_all\nsources:\n  - source: yes_no_texts\n")
    proc = svit_cli("mix", str(recipe), "--warehouse", str(texts_warehouse.root))
    assert proc.returncode == 0, proc.stderr
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("  yes_no_all ")]
    assert line.endswith("records whose first answer is yes/no: 8 yes, 5 no (yes share 0.615)")
    report = run_stats(texts_warehouse, tmp_path / "report", models=["yes_no_texts"])
    text = (tmp_path / "report" / "report.md").read_text()
    assert "answers that are Yes / No answers" in text and "svit mix counts records by their first answer" in text
    [row] = [r for r in report.tables["llava_yes_no"].dicts() if r["model"] == "yes_no_texts"]
    assert (row["yes_answers"], row["no_answers"]) == (10, 5)
