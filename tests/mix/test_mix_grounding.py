"""Groundings per output (svit/core/groundings.py): two mixes of one warehouse in different
groundings, their manifests, a rebuild that changes neither, `svit export --grounding`, and
the refusals (unknown names, a mix already in another grounding, an ingested file, unknown
image sizes)."""

from __future__ import annotations

import json

import duckdb
import pytest

from svit.core.errors import SvitError
from svit.core.groundings import GROUNDINGS, check_sizes
from svit.export import export
from svit.mix import build_mix
from svit.workflows import build_with_manifests
from tests.dbt.test_groundings import parse
from tests.helpers import query, svit_cli

RECIPE = """name: {name}
{grounding}sources:
  - source: mix_svit_core_150k
    take: 60
  - source: llava_svit_referring_qa
    take: 40
    filter: task = 'referring_qa'
  - source: llava_v1_5_mix665k
    take: 20
"""
COLUMN = {name: g.column for name, g in GROUNDINGS.items()}


def _recipe(folder, name: str, grounding: str | None) -> str:
    path = folder / f"{name}.yml"
    path.write_text(RECIPE.format(name=name, grounding=f"grounding: {grounding}\n" if grounding else ""))
    return str(path)


def _records(warehouse, name: str) -> list[tuple]:
    return query(warehouse, f"select id, task, image_id, block, conversations from {name} order by record_order")


@pytest.fixture(scope="module")
def mixes(built_sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("grounding")
    results = {
        name: build_mix(built_sample, _recipe(folder, name, grounding))
        for name, grounding in [("g_svit", None), ("g_internvl", "internvl"), ("g_qwen25", "qwen2.5-vl")]
    }
    grounded = {
        (r[0], r[1], r[2]): r[3:]
        for r in query(
            built_sample,
            "select image_id, block, turn, text_svit, body_start, "
            + ", ".join(g.column for g in GROUNDINGS.values() if g.column)
            + " from int_referring_grounded",
        )
    }
    columns = [g.column for g in GROUNDINGS.values() if g.column]
    turns = {
        key: {"text_svit": row[0], "body_start": row[1], **dict(zip(columns, row[2:], strict=True))}
        for key, row in grounded.items()
    }
    return folder, results, turns


def test_the_manifests_name_the_grounding_and_its_parameters(mixes):
    _, results, _ = mixes
    assert results["g_svit"].manifest["grounding"] == {"name": "svit"}
    assert results["g_internvl"].manifest["grounding"] == {"name": "internvl"}
    assert results["g_qwen25"].manifest["grounding"] == {
        "name": "qwen2.5-vl",
        "min_pixels": 3136,
        "max_pixels": 1003520,
    }


def test_a_grounding_changes_how_boxes_read_never_which_records(built_sample, mixes):
    _, _, turns = mixes
    plain = _records(built_sample, "g_svit")
    referring = 0
    for name, grounding in [("g_internvl", "internvl"), ("g_qwen25", "qwen2.5-vl")]:
        rows = _records(built_sample, name)
        assert [r[:4] for r in rows] == [r[:4] for r in plain]
        for (_, task, image_id, block, ours), (_, _, _, _, published) in zip(rows, plain, strict=True):
            if task != "referring_qa":
                assert ours == published  # other records are untouched
                continue
            referring += 1
            for i, (turn, before) in enumerate(zip(ours, published, strict=True)):
                t = turns[(image_id, block, i)]
                start, svit_text, text = t["body_start"], t["text_svit"], t[COLUMN[grounding]]
                # The prefix (<image>\n) and what follows the text (the record's own instruction) stay.
                assert (
                    before["value"] == before["value"][:start] + svit_text + before["value"][start + len(svit_text) :]
                )
                assert turn == {
                    "from": before["from"],
                    "value": before["value"][:start] + text + before["value"][start + len(svit_text) :],
                }
                family = COLUMN[grounding].removeprefix("text_")
                assert parse(turn["value"], family) == parse(text, family)
    assert referring >= 40 * 2  # the referring source, and the core set's referring records


def test_the_core_set_keeps_its_official_instruction_in_another_grounding(built_sample, mixes):
    _, _, turns = mixes
    rows = query(
        built_sample,
        "select a.image_id, a.block, a.conversations[1].value, b.conversations[1].value "
        "from g_svit a join g_internvl b using (record_order) "
        "where a.task = 'referring_qa' and a.mix_source = 'mix_svit_core_150k'",
    )
    assert len(rows) >= 5
    for image_id, block, published, grounded in rows:
        t = turns[(image_id, block, 0)]
        instruction = published[8 + len(t["text_svit"]) :]
        assert instruction.startswith(" ") and len(instruction) > 20  # the official file's sentence
        assert grounded == "<image>\n" + t["text_internvl"] + instruction


def test_a_rebuild_changes_neither_mix(built_sample, mixes):
    before = {name: _records(built_sample, name) for name in ("g_internvl", "g_qwen25")}
    build_with_manifests(built_sample, quiet=True)
    assert {name: _records(built_sample, name) for name in before} == before
    manifests = dict(query(built_sample, "select mix, manifest->>'$.grounding.name' from mix_manifests"))
    assert manifests["g_internvl"] == "internvl" and manifests["g_qwen25"] == "qwen2.5-vl"


def test_plain_phrase_drops_boxes_and_the_box_instruction(built_sample, mixes):
    folder, _, _ = mixes
    build_mix(built_sample, _recipe(folder, "g_plain", "plain-phrase"))
    rows = query(built_sample, "select conversations from g_plain where task = 'referring_qa' order by record_order")
    values = [t["value"] for (conversation,) in rows for t in conversation]
    assert values and not any("[0." in v or "<st>" in v for v in values)
    instructions = ("Provide the bounding boxes", "Include the coordinates", "Locate the objects")
    assert not any(i in v for v in values for i in instructions)


def test_a_mix_in_a_grounding_goes_only_into_mixes_of_that_grounding(built_sample, mixes, tmp_path):
    nested = tmp_path / "nested.yml"
    nested.write_text("name: g_nested\ngrounding: qwen-vl\nsources:\n  - source: g_internvl\n")
    with pytest.raises(SvitError, match="holds grounding internvl, this recipe asks for qwen-vl"):
        build_mix(built_sample, str(nested))
    nested.write_text("name: g_nested\ngrounding: internvl\nsources:\n  - source: g_internvl\n")
    build_mix(built_sample, str(nested))
    assert [r[4] for r in _records(built_sample, "g_nested")] == [r[4] for r in _records(built_sample, "g_internvl")]


def test_an_unknown_grounding_is_refused_with_the_choices(built_sample, tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("name: g_bad\ngrounding: qwen25\nsources:\n  - source: llava_svit_all\n")
    with pytest.raises(SvitError, match=r"bad.yml:2: unknown grounding 'qwen25'; choose one of svit, original"):
        build_mix(built_sample, str(path))


def test_export_grounding_rewrites_a_model_and_is_logged(built_sample, mixes, tmp_path):
    out = tmp_path / "ref.json"
    result = export(built_sample, "llava_svit_referring_qa", out, grounding="internvl", progress=False)
    assert result.grounding == {"name": "internvl"}
    exported = json.loads(out.read_text())
    stored = {r[0]: r[4] for r in _records(built_sample, "llava_svit_referring_qa")}
    _, _, turns = mixes
    image_block = dict(query(built_sample, "select id, [image_id, block] from llava_svit_referring_qa"))
    assert len(exported) == len(stored) > 1000
    for record in exported:
        image_id, block = image_block[record["id"]]
        for i, (turn, before) in enumerate(zip(record["conversations"], stored[record["id"]], strict=True)):
            t = turns[(image_id, block, i)]
            start, n = t["body_start"], len(t["text_svit"])
            assert turn["value"] == before["value"][:start] + t["text_internvl"] + before["value"][start + n :]
    log = [json.loads(line) for line in (built_sample.root / "exports" / "exports.jsonl").read_text().splitlines()]
    assert {k: log[-1][k] for k in ("model", "format", "out", "grounding")} == {
        "model": "llava_svit_referring_qa",
        "format": "llava",
        "out": str(out),
        "grounding": {"name": "internvl"},
    }


def test_export_keeps_a_mixs_grounding_and_refuses_another(built_sample, mixes, tmp_path):
    result = export(built_sample, "g_qwen25", tmp_path / "q.json", progress=False)
    assert result.grounding == {"name": "qwen2.5-vl", "min_pixels": 3136, "max_pixels": 1003520}
    assert [r["conversations"] for r in json.loads((tmp_path / "q.json").read_text())] == [
        r[4] for r in _records(built_sample, "g_qwen25")
    ]
    with pytest.raises(SvitError, match="g_qwen25 holds grounding qwen2.5-vl; it can be exported in that one only"):
        export(built_sample, "g_qwen25", tmp_path / "p.json", grounding="pixels", progress=False)
    with pytest.raises(SvitError, match="llava_v1_5_mix665k has no SVIT lineage"):
        export(built_sample, "llava_v1_5_mix665k", tmp_path / "p.json", grounding="pixels", progress=False)
    assert not (tmp_path / "p.json").exists()


def test_the_command_line_names_the_grounding(built_sample, mixes, tmp_path):
    def export_all(grounding: str):
        return svit_cli(
            "--warehouse", str(built_sample.root), "export", "llava_svit_all", "--grounding", grounding,
            "--out", str(tmp_path / f"{grounding}.json"), "--no-progress",
        )  # fmt: skip

    proc = export_all("qwen2.5-vl")
    assert proc.returncode == 0, proc.stderr
    assert " as llava (grounding qwen2.5-vl: min_pixels 3136, max_pixels 1003520), " in proc.stdout
    proc = export_all("qwen")
    assert proc.returncode != 0 and "'qwen' is not one of 'svit', 'original'" in proc.stderr


def test_a_grounding_from_image_sizes_needs_every_size():
    con = duckdb.connect()
    con.execute(
        "create table recs as select * from (values ('referring_qa', 1), ('referring_qa', 2), "
        "('referring_qa', 3), ('conversation', 3)) t(task, image_id)"
    )
    con.execute("create table imgs as select * from (values (1, 800, 600), (2, null, null)) t(image_id, width, height)")
    for name in ("original", "plain-phrase", "svit"):
        check_sizes(GROUNDINGS[name], con, "recs", "imgs", "m")  # no size needed (svit: the models' own)
    with pytest.raises(
        SvitError, match="m: 2 referring records have an image without a known size, which grounding internvl needs"
    ):
        check_sizes(GROUNDINGS["internvl"], con, "recs", "imgs", "m")
