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


AWKWARD_TEXTS = [
    "Hello world",
    "two  spaces and   three",
    " leading space",
    "trailing space ",
    "USER: ",
    "<s>Hello</s> world</s>",
    "a</s> b",
    f"{IMAGE_SLOT}\nWhat is it?",
    "no\u00a0break space, full\uff57idth, \ufb01 ligature\tand tab",
    "e\u0301 combining",
    "",
    " ",
    "   ",
    "a\x00b c",  # holds the separator the word path cuts on: the batch takes the plain path
]


def test_mistral_v1_counts_by_word_equal_whole_parts():
    """The word-by-word sum is exact: the same count as encoding each part whole, given as a list or
    as Arrow, and the same again once every word is known."""
    import pyarrow as pa

    counter = load_counter("mistral-v1", ("<s>", "</s>"), IMAGE_SLOT)
    assert counter.by_word
    texts = AWKWARD_TEXTS[:-1] * 3
    expected = counter._count_parts(texts)
    assert expected[0] == 2 and expected[2] == 2  # a piece's leading space is its first word's marker
    assert counter.count(texts) == expected
    assert counter.count(pa.array(texts)) == expected
    assert counter.count(AWKWARD_TEXTS) == counter._count_parts(AWKWARD_TEXTS)
    assert counter.texts_encoded == 2 * len(texts) + len(AWKWARD_TEXTS)


def test_sentencepiece_vocabulary_with_words_joined_is_encoded_whole(tmp_path):
    """A model trained without splitting at white space has pieces spanning words: counting word by
    word would be wrong, so the counter encodes each part whole."""
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SAMPLE_TEXT * 50))
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "joined"), vocab_size=60, model_type="bpe",
        split_by_whitespace=False, minloglevel=2,
    )  # fmt: skip
    counter = load_counter(str(tmp_path / "joined.model"), ("<s>",), IMAGE_SLOT)
    assert not counter.by_word
    texts = [*SAMPLE_TEXT, "the man is"]
    assert counter.count(texts) == [len(counter.processor.encode(t)) for t in texts]
