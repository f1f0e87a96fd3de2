"""Model families: how each one's trainer lays a conversation out as text, and what an image costs.

A conversation is cut into pieces whose token counts add up to the whole: a header (what comes
before the first turn) and one piece per turn. Every cut falls on a special token or right before
a space, where the tokenizers split anyway, so the sum equals the count of the whole text
(docs/tokens.md#templates has each layout and its source).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from svit.core.errors import SvitError
from svit.core.facts import FAMILY_MAX_LENGTH
from svit.core.sql import sql_str
from svit.tokens import images

# The placeholder the records carry; each family puts its own image markers in its place.
IMAGE = "<image>"
# What a family leaves where the image's features go: a boundary the tokenizer splits at, counting
# no text token (the image's own positions are the image tokens).
IMAGE_SLOT = "<svit-image-slot>"

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
QWEN_SYSTEM = "You are a helpful assistant."
INTERNVL_SYSTEM = (
    "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。"
)


@dataclass(frozen=True)
class Family:
    name: str
    header: str  # text before the first turn
    turn_sql: str  # SQL: the piece of a turn, from the columns turn (0-based), role and value
    specials: tuple[str, ...]  # strings that are one token each (added tokens of the model)
    image_tokens: Callable[[int, int], int]  # (width, height) -> positions the image takes
    needs_size: bool  # False when the count does not depend on the image
    default_tokenizer: str
    max_length: int  # the trainer's usual cut-off
    source: str  # where the layout and the image rule come from


# Python's str.strip() whitespace, as SQL characters.
_WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"

# Vicuna v1 ("--version v1"): SYSTEM USER: q ASSISTANT: a</s>USER: ... The `<image>` moves to the start
# of its turn, followed by a newline (LLaVA train.py preprocess_multimodal). The separator after the
# system prompt is a space, after an answer "</s>", which is part of that answer's piece.
_LLAVA_VALUE = (
    f"case when contains(value, {sql_str(IMAGE)}) then {sql_str(IMAGE_SLOT)} || chr(10) || "
    f"trim(replace(value, {sql_str(IMAGE)}, ''), {_WHITESPACE}) else value end"
)
_LLAVA_TURN = (
    "case when role = 'human' then (case when turn = 0 then ' ' else '' end) || 'USER: ' || "
    f"{_LLAVA_VALUE} else ' ASSISTANT: ' || {_LLAVA_VALUE} || '</s>' end"
)


def _chatml_turn(image_markers: str) -> str:
    """<|im_start|>user\\nq<|im_end|>\\n<|im_start|>assistant\\na<|im_end|>\\n, `<image>` replaced in place."""
    return (
        "'<|im_start|>' || (case when role = 'human' then 'user' else 'assistant' end) || chr(10) || "
        f"replace(value, {sql_str(IMAGE)}, {sql_str(image_markers)}) || '<|im_end|>' || chr(10)"
    )


_LLAVA = dict(
    header="<s>" + VICUNA_SYSTEM,  # the LLaMA tokenizer adds BOS
    turn_sql=_LLAVA_TURN,
    specials=("<s>", "</s>"),
    default_tokenizer="mistral-v1",
)
_QWEN = dict(
    header=f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n",
    turn_sql=_chatml_turn(f"<|vision_start|>{IMAGE_SLOT}<|vision_end|>"),
    specials=("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"),
    image_tokens=images.qwen2_vl_tokens,
    needs_size=True,
    default_tokenizer="qwen2",
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "llava-1.5",
            **_LLAVA,
            image_tokens=images.llava_15_tokens,
            needs_size=False,
            max_length=FAMILY_MAX_LENGTH["llava-1.5"],
            source="haotian-liu/LLaVA llava/conversation.py (conv_vicuna_v1), llava/train/train.py, "
            "scripts/v1_5/finetune.sh",
        ),
        Family(
            "llava-next",
            **_LLAVA,
            image_tokens=images.llava_next_tokens,
            needs_size=True,
            max_length=FAMILY_MAX_LENGTH["llava-next"],
            source="LLaVA-VL/LLaVA-NeXT llava/mm_utils.py, llava/model/llava_arch.py, "
            "scripts/train/direct_finetune_clip.sh",
        ),
        Family(
            "qwen2-vl",
            **_QWEN,
            max_length=FAMILY_MAX_LENGTH["qwen2-vl"],
            source="transformers models/qwen2_vl (image processor, processor); Qwen2-VL chat template",
        ),
        Family(
            "qwen2.5-vl",
            **_QWEN,
            max_length=FAMILY_MAX_LENGTH["qwen2.5-vl"],
            source="QwenLM/Qwen2.5-VL qwen-vl-utils vision_process.py; transformers models/qwen2_vl",
        ),
        Family(
            "internvl",
            header=f"<|im_start|>system\n{INTERNVL_SYSTEM}<|im_end|>\n",
            turn_sql=_chatml_turn(f"<img>{IMAGE_SLOT}</img>"),
            specials=("<|im_start|>", "<|im_end|>", "<img>", "</img>"),
            image_tokens=images.internvl_tokens,
            needs_size=True,
            default_tokenizer="qwen2",
            max_length=FAMILY_MAX_LENGTH["internvl"],
            source="OpenGVLab/InternVL internvl_chat/internvl/conversation.py (internvl2_5), "
            "internvl/train/dataset.py, 2nd-finetune shell scripts",
        ),
    )
}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise SvitError(f"unknown family {name!r}; families: {', '.join(FAMILIES)}")
    return FAMILIES[name]
