"""record_tokens on the bundled sample: its columns, counts equal to encoding the whole rendered
conversation, image tokens by the family's rule, the cache, and the command's refusals."""

from __future__ import annotations

import duckdb
import pytest

from svit.mix.recipe import reserved_name
from svit.tokens import run_tokens
from svit.tokens.families import FAMILIES, IMAGE_SLOT, QWEN_SYSTEM, VICUNA_SYSTEM
from svit.tokens.images import qwen2_vl_tokens
from svit.tokens.tokenizer import load_counter
from tests.helpers import one_line_error, svit_cli
from tests.tokens.test_tokenizer import SAMPLE_TEXT

SAMPLED = 40  # records checked against a whole-text encode


def rows(warehouse, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def sampled_records(warehouse, family: str) -> list[tuple]:
    """(conversations, image, text_tokens, turn_tokens, image_tokens, width, height) of a spread of
    llava_svit_all's records, the referring ones (boxes, long answers) among them."""
    return rows(
        warehouse,
        f"""select a.conversations, a.image, t.text_tokens, t.turn_tokens, t.image_tokens, t.width, t.height
        from record_tokens t join llava_svit_all a on a.record_order = t.record
        where t.model = 'llava_svit_all' and t.family = '{family}'
        order by hash(t.record) limit {SAMPLED}""",
    )


def chatml(conversations) -> str:
    text = f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n"
    for turn in conversations:
        speaker = "user" if turn["from"] == "human" else "assistant"
        value = turn["value"].replace("<image>", f"<|vision_start|>{IMAGE_SLOT}<|vision_end|>")
        text += f"<|im_start|>{speaker}\n{value}<|im_end|>\n"
    return text


def vicuna(conversations) -> str:
    seps = [" ", "</s>"]
    text = "<s>" + VICUNA_SYSTEM + seps[0]
    for i, turn in enumerate(conversations):
        value = turn["value"]
        if "<image>" in value:
            value = IMAGE_SLOT + "\n" + value.replace("<image>", "").strip()
        role = "USER" if turn["from"] == "human" else "ASSISTANT"
        text += role + ": " + value + seps[i % 2]
    return text


def test_qwen2_vl_counts_equal_the_whole_conversation_encoded(guarded):
    result = run_tokens(guarded, "qwen2-vl", progress=False)
    assert result.records == rows(guarded, "select count(*) from record_tokens where family = 'qwen2-vl'")[0][0]
    columns = [r[0] for r in rows(guarded, "describe record_tokens")]
    assert columns[:3] == ["model", "record", "id"]
    assert {"family", "tokenizer_fingerprint", "turn_tokens", "text_tokens", "image_tokens", "total_tokens"} <= set(
        columns
    )
    counter = load_counter("qwen2", FAMILIES["qwen2-vl"].specials, IMAGE_SLOT)
    slot = counter.slot_id
    header = counter.count([FAMILIES["qwen2-vl"].header])[0]
    checked = 0
    for conversations, image, text_tokens, turn_tokens, image_tokens, width, height in sampled_records(
        guarded, "qwen2-vl"
    ):
        ids = counter.encoding.encode(chatml(conversations), allowed_special="all")
        assert text_tokens == len(ids) - ids.count(slot)
        assert text_tokens == header + sum(turn_tokens) and len(turn_tokens) == len(conversations)
        if image is not None and width is not None:
            assert image_tokens == qwen2_vl_tokens(width, height)
            checked += 1
    assert checked > 0
    # every SVIT record's image is a Visual Genome image of known size
    assert rows(
        guarded, "select count(*) from record_tokens where model = 'llava_svit_all' and total_tokens is null"
    ) == [(0,)]


def test_llava_15_counts_equal_the_whole_conversation_encoded(guarded):
    run_tokens(guarded, "llava-1.5", models=["llava_svit_all"], progress=False)
    counter = load_counter("mistral-v1", FAMILIES["llava-1.5"].specials, IMAGE_SLOT)
    for conversations, image, text_tokens, _, image_tokens, _, _ in sampled_records(guarded, "llava-1.5"):
        # the slow LLaMA tokenizer's way: cut at the special tokens, encode each part on its own
        parts = counter.split.split(vicuna(conversations))
        expected = sum(len(counter.processor.encode(p)) for p in parts[::2] if p)
        expected += sum(1 for p in parts[1::2] if p != IMAGE_SLOT)
        assert text_tokens == expected
        assert image_tokens == (576 if image else 0)


def test_cache_tokenises_only_new_texts(guarded, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(SAMPLE_TEXT, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    counter = load_counter(str(path), FAMILIES["internvl"].specials, IMAGE_SLOT)

    first = run_tokens(guarded, "internvl", models=["llava_svit_all"], progress=False, counter=counter)
    assert first.encoded == first.pieces == counter.texts_encoded > 0
    again = run_tokens(guarded, "internvl", models=["llava_svit_all"], progress=False, counter=counter)
    assert again.encoded == 0 and counter.texts_encoded == first.encoded
    # a model whose texts are all among llava_svit_all's
    part = run_tokens(guarded, "internvl", models=["llava_svit_conversation"], progress=False, counter=counter)
    assert part.encoded == 0 and counter.texts_encoded == first.encoded
    assert rows(
        guarded,
        "select sum(text_tokens) from record_tokens where family = 'internvl' and model = 'llava_svit_conversation' "
        f"and tokenizer_fingerprint = '{counter.fingerprint}'",
    ) == rows(
        guarded,
        "select sum(text_tokens) from record_tokens where family = 'internvl' and model = 'llava_svit_all' "
        f"and tokenizer_fingerprint = '{counter.fingerprint}' and id in (select id from llava_svit_conversation)",
    )


def test_unknown_image_sizes_are_counted_not_guessed(guarded):
    result = run_tokens(guarded, "internvl", models=["llava_instruct_150k"], progress=False)
    unknown = rows(
        guarded,
        "select count(*) from record_tokens where model = 'llava_instruct_150k' and family = 'internvl' "
        "and image is not null and width is null",
    )[0][0]
    assert result.unknown_size == unknown
    if unknown:
        assert result.unknown_examples and any("image tokens unknown" in line for line in result.summary_lines())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--family", "gemma"], "svit: unknown family 'gemma'; families: llava-1.5, llava-next, qwen2-vl"),
        (["--family", "internvl", "--tokenizer", "nope.bin"], "svit: unknown tokenizer 'nope.bin'"),
        (["--family", "internvl", "--tokenizer", "/nonexistent/t.model"], "svit: cannot read tokenizer"),
        (["--family", "internvl", "--model", "nope"], "svit: no model named 'nope'"),
    ],
)
def test_command_refusals_are_one_line(guarded, args, expected):
    assert one_line_error(svit_cli("tokens", *args, "--warehouse", str(guarded.root))).startswith(expected)


def test_names_reserved_and_listed(guarded):
    assert reserved_name("record_tokens") and reserved_name("token_cache")
    run_tokens(guarded, "llava-1.5", models=["svit_core_150k"], progress=False)
    listed = svit_cli("sql", "--tables", "--warehouse", str(guarded.root)).stdout
    assert "record_tokens " in listed and "token_cache" not in listed
