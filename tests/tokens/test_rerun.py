"""A rerun of `svit tokens` reads only the models whose records, layout or image sizes changed
since their last count; the others keep their rows as they were."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from svit.tokens import run_tokens
from svit.tokens.families import FAMILIES, IMAGE_SLOT
from svit.tokens.tokenizer import load_counter
from tests.tokens.test_tokenizer import SAMPLE_TEXT

MODEL = "llava_svit_conversation"


@pytest.fixture
def counter(tmp_path):
    """A word-level tokenizer trained on the sample text: fast, and it counts what it encodes."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(SAMPLE_TEXT, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return load_counter(str(path), FAMILIES["internvl"].specials, IMAGE_SLOT)


def execute(warehouse, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse.duckdb_path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def tokens_of(warehouse, counter, record: int) -> int:
    return execute(
        warehouse,
        f"select text_tokens from record_tokens where model = '{MODEL}' and family = 'internvl' "
        f"and tokenizer_fingerprint = '{counter.fingerprint}' and record = {record}",
    )[0][0]


def test_rerun_with_nothing_new_reads_nothing(guarded, counter):
    first = run_tokens(guarded, "internvl", models=[MODEL, "llava_instruct_150k"], progress=False, counter=counter)
    assert first.unchanged == [] and first.pieces > 0
    before = execute(guarded, f"select * from record_tokens where tokenizer_fingerprint = '{counter.fingerprint}'")
    encoded = counter.texts_encoded

    again = run_tokens(guarded, "internvl", models=[MODEL, "llava_instruct_150k"], progress=False, counter=counter)
    assert again.unchanged == [MODEL, "llava_instruct_150k"]
    assert again.pieces == again.encoded == 0 and counter.texts_encoded == encoded
    assert (again.records, again.text_tokens, again.image_tokens) == (
        first.records,
        first.text_tokens,
        first.image_tokens,
    )
    assert any(f"not read again: {MODEL}, llava_instruct_150k" in line for line in again.summary_lines())
    assert sorted(before) == sorted(
        execute(guarded, f"select * from record_tokens where tokenizer_fingerprint = '{counter.fingerprint}'")
    )


def test_a_changed_record_is_counted_again(guarded, counter):
    run_tokens(guarded, "internvl", models=[MODEL], progress=False, counter=counter)
    record, was = execute(
        guarded,
        f"select record_order, conversations[2].value from {MODEL} order by record_order limit 1",
    )[0]
    before = tokens_of(guarded, counter, record)
    # One more word in the first answer, a word the tokenizer knows: one more token.
    execute(
        guarded,
        f"update {MODEL} set conversations = list_transform(conversations, lambda c, i: "
        "case when i = 2 then {'from': c.from, 'value': c.value || ' the'} else c end) "
        f"where record_order = {record}",
    )
    encoded = counter.texts_encoded
    result = run_tokens(guarded, "internvl", models=[MODEL], progress=False, counter=counter)
    assert result.unchanged == [] and result.encoded == 1 and counter.texts_encoded == encoded + 1
    assert tokens_of(guarded, counter, record) == before + 1
    assert was  # the record had an answer to lengthen


def test_a_changed_layout_is_counted_again(guarded, counter, monkeypatch):
    run_tokens(guarded, "internvl", models=[MODEL], progress=False, counter=counter)
    again = run_tokens(guarded, "internvl", models=[MODEL], progress=False, counter=counter)
    assert again.unchanged == [MODEL]
    # The same family with another image rule (as after a fix to it): the counts are made again.
    changed = dataclasses.replace(FAMILIES["internvl"], image_tokens=lambda width, height: 7)
    monkeypatch.setattr("svit.tokens.run.family", lambda name: changed)
    result = run_tokens(guarded, "internvl", models=[MODEL], progress=False, counter=counter)
    assert result.unchanged == [] and result.encoded == 0  # the texts came from the cache
    assert execute(
        guarded,
        f"select distinct image_tokens from record_tokens where model = '{MODEL}' and family = 'internvl' "
        f"and tokenizer_fingerprint = '{counter.fingerprint}' and width is not null",
    ) == [(7,)]
