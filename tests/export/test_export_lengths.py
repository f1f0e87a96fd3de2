"""`svit export --lengths F`: each record's `length` is its total as `svit tokens` counted it
(llava/jsonl: negative for text-only records), nothing else in the record changes, records of
unknown length are written without it and counted, and counts that cannot apply are refused."""

from __future__ import annotations

import json

import pytest

from svit.core.errors import SvitError
from svit.export import export
from svit.mix import build_mix
from svit.tokens import run_tokens
from tests.helpers import query

FILE = "llava_v1_5_mix665k"
REFERRING = "llava_svit_referring_qa"


@pytest.fixture(scope="module")
def counted(guarded):
    run_tokens(guarded, "llava-1.5", models=[FILE], progress=False)
    run_tokens(guarded, "internvl", models=[REFERRING, FILE], progress=False)
    return guarded


def totals(warehouse, model: str, family: str) -> dict[str, int | None]:
    return dict(
        query(warehouse, f"select id, total_tokens from record_tokens where model = '{model}' and family = '{family}'")
    )


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_lengths_are_the_signed_totals_and_nothing_else_changes(counted, tmp_path):
    plain = export(counted, FILE, tmp_path / "plain.jsonl", "jsonl", progress=False)
    result = export(counted, FILE, tmp_path / "long.jsonl", "jsonl", progress=False, lengths="llava-1.5")
    assert result.records == plain.records == 1847 and result.notes == []
    expected = {}
    # Ids repeat in this file (the sample's duplicate ids): compare record by record, in order.
    rows = query(
        counted,
        f"select r.total_tokens, r.image is not null from record_tokens r where model = '{FILE}' "
        "and family = 'llava-1.5' order by record",
    )
    with_length, without = lines(tmp_path / "long.jsonl"), lines(tmp_path / "plain.jsonl")
    for record, bare, (total, has_image) in zip(with_length, without, rows, strict=True):
        assert record.pop("length") == (total if has_image else -total)
        assert record == bare
        expected[has_image] = True
    assert expected == {True: True, False: True}  # both signs were written
    # LLaVA's key order: id, image, the extra keys, length, conversations.
    text_only = next(r for r in lines(tmp_path / "long.jsonl") if "image" not in r)
    assert list(text_only) == ["id", "model", "length", "conversations"] and text_only["length"] < 0


def test_internvl_lengths_are_the_totals(counted, tmp_path):
    result = export(counted, REFERRING, tmp_path / "ref.jsonl", "internvl", progress=False, lengths="internvl")
    written = lines(tmp_path / "ref.jsonl")
    expected = totals(counted, REFERRING, "internvl")
    assert len(written) == result.records == len(expected) and all(v is not None for v in expected.values())
    assert {r["id"]: r["length"] for r in written} == expected
    assert list(written[0])[:5] == ["id", "image", "width", "height", "length"]


def test_records_of_unknown_length_are_written_without_it_and_counted(counted, tmp_path):
    # InternVL's image tokens need the image size: the file's COCO, GQA, ... images have none here.
    result = export(counted, FILE, tmp_path / "file.jsonl", "internvl", progress=False, lengths="internvl:qwen2")
    written = lines(tmp_path / "file.jsonl")
    [(unknown,)] = query(
        counted,
        f"select count(*) from record_tokens where model = '{FILE}' and family = 'internvl' and total_tokens is null",
    )
    assert unknown > 0 and sum("length" not in r for r in written) == unknown
    assert any(
        note.startswith(f"records whose length is unknown (image size unknown), written without length: {unknown:,} ")
        for note in result.notes
    )


@pytest.mark.parametrize(
    ("model", "fmt", "lengths", "message"),
    [
        (FILE, "sharegpt", "llava-1.5", "--lengths does not apply to --format sharegpt"),
        (REFERRING, "jsonl", "llava-1.5", "no token counts of llava_svit_referring_qa for llava-1.5"),
        (FILE, "jsonl", "internvl:mistral-v1", "no token counts of llava_v1_5_mix665k for internvl with tokenizer"),
    ],
)
def test_lengths_that_cannot_apply_are_refused(counted, tmp_path, model, fmt, lengths, message):
    with pytest.raises(SvitError, match=message):
        export(counted, model, tmp_path / "x.json", fmt, progress=False, lengths=lengths)
    assert not (tmp_path / "x.json").exists()


def test_counts_of_a_mix_replaced_since_are_refused(counted, tmp_path):
    recipe = tmp_path / "m.yml"
    recipe.write_text(f"name: lengths_mix\nsources:\n  - source: {FILE}\n    take: 50\n")
    build_mix(counted, str(recipe))
    run_tokens(counted, "llava-1.5", models=["lengths_mix"], progress=False)
    recipe.write_text(f"name: lengths_mix\nseed: 4\nsources:\n  - source: {FILE}\n    take: 50\n")
    build_mix(counted, str(recipe), replace=True)
    with pytest.raises(SvitError, match=r"the token counts of lengths_mix .* miss \d+ of its records"):
        export(counted, "lengths_mix", tmp_path / "m.jsonl", "jsonl", progress=False, lengths="llava-1.5")
