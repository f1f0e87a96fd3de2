"""Token counters: a tokenizer trained here (exact counts by construction), the bundled real ones on
strings whose ids were checked, and the refusals."""

from __future__ import annotations

import pytest

from svit.core.errors import InputError, SvitError
from svit.tokens.families import IMAGE_SLOT
from svit.tokens.tokenizer import load_counter

SAMPLE_TEXT = [
    "What is the man holding in the image?",
    "The man is holding a red umbrella.",
    "Where is the clock? The clock is on the tower.",
]


@pytest.fixture(scope="module")
def word_level(tmp_path_factory):
    """A word-level tokenizer trained on the sample text: one token per word or punctuation mark."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(SAMPLE_TEXT, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def test_trained_tokenizer_counts_words_specials_and_no_slot(word_level):
    counter = load_counter(str(word_level), ("<|im_start|>", "<|im_end|>"), IMAGE_SLOT)
    texts = [
        "What is the man holding?",  # 5 words + ?
        "<|im_start|>user\nThe clock is red.<|im_end|>\n",  # 2 specials + user(unk) + 5
        f"{IMAGE_SLOT}\nWhere is the clock?",  # the slot counts nothing
        "",
    ]
    assert counter.count(texts) == [6, 8, 5, 0]
    assert counter.kind == "tokenizers" and counter.texts_encoded == 4


def test_qwen2_named_tokenizer_ids():
    """Qwen2's ids: "Hello world" is 9707 1879; qwen-vl-finetune hard-codes assistant = 77091 and
    <|im_end|> = 151645 (<|im_start|> = 151644)."""
    counter = load_counter("qwen2", ("<|im_start|>", "<|im_end|>"), IMAGE_SLOT)
    encode = counter.encoding.encode
    assert encode("Hello world", allowed_special="all") == [9707, 1879]
    assert encode("<|im_start|>assistant\n", allowed_special="all") == [151644, 77091, 198]
    assert encode("<|im_end|><|vision_start|><|image_pad|>", allowed_special="all") == [151645, 151652, 151655]
    assert counter.count(["Hello world", "<|im_start|>assistant\n", f"a{IMAGE_SLOT}b"]) == [2, 3, 2]


def test_mistral_v1_named_tokenizer_ids():
    """Mistral-7B's SentencePiece: "Hello world" is 22557 1526; "\\n" alone after a special is the
    leading-space marker 28705 then the byte <0x0A> 13."""
    counter = load_counter("mistral-v1", ("<s>", "</s>"), IMAGE_SLOT)
    assert counter.processor.encode("Hello world") == [22557, 1526]
    assert counter.processor.encode("\nWhat") == [28705, 13, 3195]
    # <s> and </s> one token each; the slot none; a piece's leading space is the first word's marker
    assert counter.count(["Hello world", "<s>Hello world</s>", f"{IMAGE_SLOT}\nWhat", " Hello world"]) == [2, 4, 3, 2]


def test_fingerprint_depends_on_the_specials():
    a = load_counter("qwen2", ("<|im_start|>",), IMAGE_SLOT)
    b = load_counter("qwen2", ("<|im_start|>", "<img>"), IMAGE_SLOT)
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == load_counter("qwen2", ("<|im_start|>",), IMAGE_SLOT).fingerprint


def test_refusals(tmp_path):
    with pytest.raises(SvitError, match="unknown tokenizer 'gpt9'.*qwen2, mistral-v1"):
        load_counter("gpt9", (), IMAGE_SLOT)
    with pytest.raises(InputError, match="cannot read tokenizer .*missing.json"):
        load_counter(str(tmp_path / "missing.json"), (), IMAGE_SLOT)
    for name, content in (("bad.json", "{}"), ("bad.model", "garbage"), ("bad.tiktoken", "zz")):
        (tmp_path / name).write_text(content)
        with pytest.raises(InputError, match=f"cannot read tokenizer .*{name}"):
            load_counter(str(tmp_path / name), (), IMAGE_SLOT)
