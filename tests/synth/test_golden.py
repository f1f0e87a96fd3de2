"""Golden records: the real records in tests/data/golden appear in, and shape, the synthetic corpus."""

from __future__ import annotations

import json
from pathlib import Path

from svit.core import baai_procedure
from svit.core.facts import LLAVA_MIX665K_PARTS, REFERRING_INSTRUCTIONS, TASKS
from synth import golden

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def _golden(name: str):
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _types(record: dict) -> dict:
    return {k: type(v).__name__ for k, v in record.items()}


def test_generator_copies_equal_the_golden_files():
    vg1 = _golden("visual_genome_image1_examples.json")
    assert golden.VG_IMAGE_1 == vg1["image_data.json_entry"]
    assert golden.VG_IMAGE_1_CLOCK == vg1["objects.json_object_example"]
    assert golden.VG_IMAGE_1_CLOCK_REGION == vg1["region_descriptions.json_region_example"]
    assert [golden.LLAVA_INSTRUCT_FIRST] == _golden("llava_instruct_record_000000033471.json")
    assert [golden.MIX665K_GQA_EXCERPT] == _golden("mix665k_gqa_record_EXCERPT_truncated.json")
    assert [golden.MIX665K_OCR_VQA_EXCERPT] == _golden("mix665k_ocrvqa_record_EXCERPT_maybe_truncated.json")
    assert [golden.MIX665K_VG_EXCERPT] == _golden("mix665k_vg_record_EXCERPT_truncated.json")
    dataoptim = _golden("dataoptim_example-byod.json")
    assert [r for r in dataoptim if r["id"].startswith("svit_")] == _golden(
        "svit_records_llava_style_from_dataoptim.json"
    )


def test_rebuilt_image_1_blocks_convert_back_to_dataoptims_records():
    """Our original-format blocks for VG image 1 give DataOptim's text (boxes aside: they pad them)."""
    by_id = {r["id"]: r for r in _golden("svit_records_llava_style_from_dataoptim.json")}
    names = {
        "conversation": "svit_conversation_0",
        "complex_reasoning": "svit_complex_0",
        "detail_description": "svit_detail_0",
        "referring_qa": "svit_referring_0",
    }
    for task in TASKS:
        expected = by_id[names[task]]
        record = baai_procedure.to_llava_record(
            task,
            1,
            0,
            golden.IMAGE_1_BLOCKS[task],
            expected["image"],
            800,
            600,
            lambda _t: "Locate the objects with their coordinates.",
            expected["id"],
        )
        if task == "referring_qa":
            text = json.dumps(expected)
            for box in ("[0.526, 0.152, 0.625, 0.717]", "[0.147, 0.022, 0.258, 0.325]"):
                text = text.replace(box, baai_procedure.expand_box_text_to_square(box, 800, 600))
            expected = json.loads(text)
            assert "[0.526, 0.239, 0.625, 0.662]" in record["conversations"][0]["value"]
        assert record == expected


def test_vg_image_1_is_in_the_raw_annotations(load):
    vg1 = _golden("visual_genome_image1_examples.json")
    assert load("raw/annotations/vg/image_data.json")[0] == vg1["image_data.json_entry"]
    objects = load("raw/annotations/vg/objects.json")[0]
    assert objects["image_id"] == 1 and vg1["objects.json_object_example"] in objects["objects"]
    regions = load("raw/annotations/vg/region_descriptions.json")[0]
    assert regions["id"] == 1 and vg1["region_descriptions.json_region_example"] in regions["regions"]


def test_image_1_opens_every_task_with_svits_own_block(load):
    for task in TASKS:
        first = load(f"data/{task}.json")[0]
        assert first["image_id"] == 1
        assert first["conversations"][0] == golden.IMAGE_1_BLOCKS[task]


def test_real_first_llava_instruct_record_appears_verbatim(corpus, load):
    record = _golden("llava_instruct_record_000000033471.json")[0]
    assert load("llava/llava_instruct_150k.json")[0] == record
    assert load("llava/llava_v1_5_mix665k.json")[0] == record
    indented = "\n".join("  " + line for line in json.dumps(record, indent=2, ensure_ascii=False).splitlines())
    assert (corpus / "llava/llava_instruct_150k.json").read_text(encoding="utf-8").startswith("[\n" + indented + ",\n")


def test_real_mix_excerpts_open_their_parts(load, truth):
    mix = load("llava/llava_v1_5_mix665k.json")
    start = {}
    offset = 0
    for part, _, _ in LLAVA_MIX665K_PARTS:
        start[part] = offset
        offset += truth["llava_mix665k"]["records_per_part"][part]
    for part, name in [
        ("gqa", "mix665k_gqa_record_EXCERPT_truncated.json"),
        ("ocr_vqa", "mix665k_ocrvqa_record_EXCERPT_maybe_truncated.json"),
        ("vg", "mix665k_vg_record_EXCERPT_truncated.json"),
    ]:
        assert mix[start[part]] == _golden(name)[0]


def test_generated_records_have_the_golden_shapes(load, truth):
    """Same keys in the same order and the same JSON types as the real record of each kind."""
    mix = load("llava/llava_v1_5_mix665k.json")
    gqa = _golden("mix665k_gqa_record_EXCERPT_truncated.json")[0]
    string_id = _golden("llava_instruct_record_000000033471.json")[0]
    for record in mix:
        if "model" in record:
            assert list(record) == ["id", "model", "conversations"]
            continue
        reference = gqa if isinstance(record["id"], int) else string_id
        assert _types(record) == _types(reference)
        assert list(record) == list(reference)
        assert all(list(t) == ["from", "value"] for t in record["conversations"])
    assert any(isinstance(r["id"], int) for r in mix)
    svit = _golden("svit_records_llava_style_from_dataoptim.json")
    for record in load("format/llava-v1.5/SVIT_core_150K.json"):
        assert _types(record) == _types(svit[0]) and list(record) == list(svit[0])
        assert all(list(t) == ["from", "value"] for t in record["conversations"])
        assert not record["id"].startswith("svit_")
    referring = [
        r
        for r in load("format/llava-v1.5/SVIT_core_150K.json")
        if any(r["conversations"][0]["value"].endswith(i) for i in REFERRING_INSTRUCTIONS)
    ]
    assert referring, "the core holds referring records"
