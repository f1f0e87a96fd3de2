"""svit.core.baai_procedure: BAAI's original -> LLaVA-1.5 conversion, rule by rule (docs/formats.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svit.core import baai_procedure as bp
from svit.core.facts import REFERRING_INSTRUCTIONS

GOLDEN = Path(__file__).parent / "data" / "golden"
CLOCK = "[0.526, 0.152, 0.625, 0.717]"
SIGN = "[0.147, 0.022, 0.258, 0.325]"
CLOCK_PADDED = "[0.526, 0.239, 0.625, 0.662]"
SIGN_PADDED = "[0.147, 0.141, 0.258, 0.369]"


def _dataoptim(record_id: str) -> dict:
    records = json.loads((GOLDEN / "svit_records_llava_style_from_dataoptim.json").read_text())
    return next(r for r in records if r["id"] == record_id)


def test_vg_image_1_worked_example():
    assert bp.expand_box_text_to_square(CLOCK, 800, 600) == CLOCK_PADDED
    assert bp.expand_box_text_to_square(SIGN, 800, 600) == SIGN_PADDED


def test_python_rounding_tie_goes_to_even_on_the_binary_value():
    # 0.717 * 600 = 430.2 -> 430, + 100 = 530; 530 / 800 = 0.6625 rounds to 0.662
    assert round(530 / 800, 3) == 0.662
    assert bp.expand_box_to_square((0.526, 0.152, 0.625, 0.717), 800, 600)[3] == 0.662


def test_zero_and_one_print_as_python_floats():
    assert bp.expand_box_text_to_square("[0.0, 0.0, 1.0, 1.0]", 800, 600) == "[0.0, 0.125, 1.0, 0.875]"
    assert bp.expand_box_text_to_square("[0, 0, 1, 1]", 800, 600) == "[0.0, 0.125, 1.0, 0.875]"


def test_portrait_image_shifts_x():
    assert bp.expand_box_text_to_square("[0.0, 0.0, 1.0, 1.0]", 600, 800) == "[0.125, 0.0, 0.875, 1.0]"
    # odd difference: (501 - 500) // 2 == 0, so no shift; round(0.5 * 501) == round(250.5) == 250
    assert bp.expand_box_text_to_square("[0.5, 0.5, 1.0, 1.0]", 500, 501) == "[0.499, 0.499, 0.998, 1.0]"


def test_square_image_keeps_values_but_reprints_them():
    assert bp.expand_box_text_to_square("a [0.5, 0.25, 0.75, 1.0] b", 500, 500) == "a [0.5, 0.25, 0.75, 1.0] b"
    assert bp.expand_box_text_to_square("[0.50, 0.250, 0.7500, 1.000]", 500, 500) == "[0.5, 0.25, 0.75, 1.0]"


def test_two_phrases_with_several_boxes_each():
    text = "The <st>men<ed> [0.1, 0.2, 0.3, 0.4], [0.5, 0.2, 0.7, 0.9] stand by the <st>clock<ed> " + CLOCK
    out = bp.expand_box_text_to_square(bp.strip_phrase_marks(text), 800, 600)
    assert out == "The men [0.1, 0.275, 0.3, 0.425], [0.5, 0.275, 0.7, 0.8] stand by the clock " + CLOCK_PADDED


def test_repeated_identical_box_is_converted_once_everywhere():
    text = f"the clock {CLOCK} and again the clock {CLOCK}."
    assert (
        bp.expand_box_text_to_square(text, 800, 600) == f"the clock {CLOCK_PADDED} and again the clock {CLOCK_PADDED}."
    )


def test_converted_box_equal_to_a_later_box_is_converted_again():
    # BAAI's sequential str.replace: A -> A' where A' is literally the later box B, so the
    # replacement of B also hits A's converted copy. Kept on purpose.
    a, b = "[0.1, 0.1, 0.2, 0.2]", "[0.1, 0.2, 0.2, 0.275]"
    assert bp.expand_box_text_to_square(a, 800, 600) == b
    out = bp.expand_box_text_to_square(f"A {a} B {b}", 800, 600)
    assert out == "A [0.1, 0.275, 0.2, 0.331] B [0.1, 0.275, 0.2, 0.331]"


def test_text_without_a_well_formed_box_is_unchanged():
    for text in ("[0.1,0.2,0.3,0.4]", "[0.1, 0.2, 0.3]", "[-0.1, 0.2, 0.3, 0.4]", "no box"):
        assert bp.expand_box_text_to_square(text, 800, 600) == text


def test_strip_phrase_marks_keeps_the_phrase():
    assert bp.strip_phrase_marks("the <st>clock<ed> [0.5, 0.5, 0.6, 0.6]") == "the clock [0.5, 0.5, 0.6, 0.6]"


def test_image_path():
    assert bp.image_path("VG_100K_2", 1) == "vg/VG_100K_2/1.jpg"


def test_referring_record_from_dataoptims_svit_referring_0_gets_padded_boxes():
    golden = _dataoptim("svit_referring_0")
    question, answer = (t["value"] for t in golden["conversations"])
    instruction = "Locate the objects with their coordinates."
    original_q = question.removeprefix("<image>\n").removesuffix(" " + instruction)
    original_q = original_q.replace("the clock [", "the <st>clock<ed> [").replace("the sign [", "the <st>sign<ed> [")
    original_a = answer.replace("The sign [", "The <st>sign<ed> [").replace("the clock [", "the <st>clock<ed> [")
    block = {"content": [{"from": "user", "value": original_q}, {"from": "gpt", "value": original_a}]}
    calls = []

    def instruction_for(turn: int) -> str:
        calls.append(turn)
        return instruction

    record = bp.to_llava_record("referring_qa", 1, 0, block, "vg/VG_100K_2/1.jpg", 800, 600, instruction_for, "r0")
    padded = json.loads(json.dumps(golden).replace(CLOCK, CLOCK_PADDED).replace(SIGN, SIGN_PADDED))
    assert record == {"id": "r0", "image": "vg/VG_100K_2/1.jpg", "conversations": padded["conversations"]}
    assert list(record) == ["id", "image", "conversations"]
    assert calls == [0]


@pytest.mark.parametrize("record_id", ["svit_conversation_0", "svit_complex_0", "svit_detail_0"])
def test_non_referring_records_only_rename_roles_and_add_the_image_token(record_id):
    golden = _dataoptim(record_id)
    content = []
    for turn in golden["conversations"]:
        role = "user" if turn["from"] == "human" else "gpt"
        content.append({"from": role, "value": turn["value"].removeprefix("<image>\n")})
    block = {"content": content, "topic": "dropped from the record"}
    task = {"svit_conversation_0": "conversation", "svit_complex_0": "complex_reasoning"}.get(
        record_id, "detail_description"
    )
    record = bp.to_llava_record(task, 1, 0, block, golden["image"], 800, 600, None, golden["id"])
    assert record == golden


def test_instruction_is_appended_to_every_human_turn_of_a_referring_block():
    block = {
        "content": [
            {"from": "user", "value": "q1"},
            {"from": "gpt", "value": "a1"},
            {"from": "user", "value": "q2"},
            {"from": "gpt", "value": "a2"},
        ]
    }
    record = bp.to_llava_record(
        "referring_qa", 5, 3, block, "vg/VG_100K/5.jpg", 10, 10, lambda turn: REFERRING_INSTRUCTIONS[turn // 2], "x"
    )
    values = [t["value"] for t in record["conversations"]]
    assert values == ["<image>\nq1 " + REFERRING_INSTRUCTIONS[0], "a1", "q2 " + REFERRING_INSTRUCTIONS[1], "a2"]


def test_referring_without_instruction_and_unknown_roles_are_refused():
    block = {"content": [{"from": "user", "value": "q"}, {"from": "gpt", "value": "a"}]}
    with pytest.raises(ValueError, match="instruction_for"):
        bp.to_llava_record("referring_qa", 1, 0, block, "p", 800, 600, None, "x")
    with pytest.raises(ValueError, match="unknown role"):
        bp.to_llava_record("conversation", 1, 0, {"content": [{"from": "human", "value": "q"}]}, "p", 8, 6, None, "x")
    with pytest.raises(ValueError, match="content"):
        bp.to_llava_record("conversation", 1, 0, {"content": []}, "p", 8, 6, None, "x")
