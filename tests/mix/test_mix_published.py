"""The published recipes rebuilt from the warehouse equal BAAI's files."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import duckdb
import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.errors import SvitError
from svit.core.facts import REFERRING_INSTRUCTIONS
from svit.core.warehouse import Warehouse
from svit.mix import build_mix
from svit.workflows import build_with_manifests
from tests.helpers import OFFICIAL, TRUTH, llava_records_of_model, query
from tests.stats.test_stats_numbers import words


def _instruction(record: dict) -> str | None:
    question = record["conversations"][0]["value"]
    return next((s for s in REFERRING_INSTRUCTIONS if question.endswith(" " + s)), None)


def test_core_equals_the_official_file_with_its_instructions(built_sample):
    official = json.loads((OFFICIAL / "SVIT_core_150K.json").read_text())
    records = llava_records_of_model(built_sample, "mix_svit_core_150k")
    assert records == official
    used = Counter(i for i in map(_instruction, records) if i)
    assert dict(used) == TRUTH["core"]["referring_instructions"]


def test_core_counts_per_task_and_lineage(built_sample):
    per_task = dict(query(built_sample, "select task, count(*) from mix_svit_core_150k group by 1"))
    assert per_task == TRUTH["core"]["records_per_task"]
    # Lineage: each record points at the llava_svit_all record it was rebuilt from.
    [(mismatched,)] = query(
        built_sample,
        """
        select count(*) from mix_svit_core_150k m join llava_svit_all a on a.id = m.derived_id
        where a.image <> m.image or a.task <> m.task""",
    )
    assert mismatched == 0


def test_mix_665k_equals_the_official_mix_and_ground_truth(built_sample):
    official = json.loads((OFFICIAL / "SVIT_mix_665K.json").read_text())
    records = llava_records_of_model(built_sample, "mix_svit_mix_665k")
    assert len(records) == TRUTH["svit_mix_665k"]["records"]
    assert records == official  # ids with their JSON type, no image key on text-only records, `model` kept
    prefixes = dict(query(built_sample, "select image_prefix, count(*) from mix_svit_mix_665k group by 1"))
    assert prefixes == TRUTH["svit_mix_665k"]["records_per_image_prefix"]
    first = TRUTH["svit_mix_665k"]["core_records_first"]
    assert query(built_sample, f"select distinct mix_source from mix_svit_mix_665k where record_order < {first}") == [
        ("mix_svit_core_150k",)
    ]
    # What was swapped out is exactly the LLaVA-Instruct part.
    [(kept,)] = query(built_sample, "select count(*) from mix_svit_mix_665k where mix_source = 'llava_v1_5_mix665k'")
    assert kept == TRUTH["llava_mix665k"]["records"] - TRUTH["llava_mix665k"]["records_per_part"]["llava_instruct"]


def test_svit_mix_of_the_core_builds_the_matches_it_reads(built_sample):
    """`svit mix mix_svit_core_150k` builds int_svit_core_150k_matched too: a warehouse built
    before that table existed (here: the table dropped) gets the same core."""
    con = duckdb.connect(str(built_sample.duckdb_path))
    try:
        con.execute("drop table int_svit_core_150k_matched")
    finally:
        con.close()
    result = build_mix(built_sample, "mix_svit_core_150k")
    assert result.records == TRUTH["core"]["records"]
    assert query(built_sample, "select count(*), count(derived_id) from int_svit_core_150k_matched") == [
        (TRUTH["core"]["records"], TRUTH["core"]["records"])
    ]
    official = json.loads((OFFICIAL / "SVIT_core_150K.json").read_text())
    assert llava_records_of_model(built_sample, "mix_svit_core_150k") == official


def test_published_manifest(built_sample):
    result = build_mix(built_sample, "mix_svit_core_150k")
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["records"] == TRUTH["core"]["records"]
    assert manifest["records_per_task"] == TRUTH["core"]["records_per_task"]
    [source] = manifest["sources"]
    assert (source["available"], source["selected"], source["unmatched"]) == (TRUTH["core"]["records"],) * 2 + (0,)
    assert {i["name"] for i in manifest["inputs"]} >= {"SVIT_core_150K.json", "referring_qa.zip"} or {
        i["name"] for i in manifest["inputs"]
    } >= {"SVIT_core_150K.json", "referring_qa.json"}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert "dbt-core" in manifest["tool_versions"]
    # The statistics' words (tests/stats/test_stats_numbers.py) of the official core's turns.
    official = json.loads((OFFICIAL / "SVIT_core_150K.json").read_text())
    expected = Counter()
    for record in official:
        for turn in record["conversations"]:
            expected[turn["from"]] += words(turn["value"])
    assert manifest["words_per_role"] == dict(sorted(expected.items()))
    # mix_svit_mix_665k's, read from the words ingest counted for the records it keeps of the
    # LLaVA file: the words of the turns it holds, as counted here.
    mix = json.loads(build_mix(built_sample, "mix_svit_mix_665k").manifest_path.read_text())
    expected = Counter()
    for (conversations,) in query(built_sample, "select conversations from mix_svit_mix_665k"):
        for turn in conversations:
            expected[turn["from"]] += words(turn["value"])
    assert mix["words_per_role"] == dict(sorted(expected.items())) and sum(expected.values()) > 0
    [(stored,)] = query(built_sample, "select manifest from mix_manifests where mix = 'mix_svit_core_150k'")
    assert json.loads(stored)["records"] == TRUTH["core"]["records"]


def test_svit_build_writes_the_published_manifests_as_svit_mix_does(built_sample):
    manifests = built_sample.root / "mixes"
    for name in ("mix_svit_core_150k", "mix_svit_mix_665k"):
        (manifests / f"{name}.manifest.json").unlink(missing_ok=True)
    _, manifests_written = build_with_manifests(
        built_sample, ("--select", "mix_svit_mix_665k", "llava_svit_conversation"), quiet=True
    )
    # Only the published mixes it built; a model that is not a mix gets none.
    assert [m.name for m in manifests_written] == ["mix_svit_mix_665k"]
    assert not (manifests / "mix_svit_core_150k.manifest.json").exists()
    built = json.loads((manifests / "mix_svit_mix_665k.manifest.json").read_text())
    assert built["kind"] == "published" and built["records"] == TRUTH["svit_mix_665k"]["records"]
    assert built["records_per_image_prefix"] == TRUTH["svit_mix_665k"]["records_per_image_prefix"]
    by_mix = build_mix(built_sample, "mix_svit_mix_665k").manifest
    assert {k: v for k, v in built.items() if k != "built_at"} == {k: v for k, v in by_mix.items() if k != "built_at"}
    assert query(built_sample, "select kind, records from mix_manifests where mix = 'mix_svit_mix_665k'") == [
        ("published", TRUTH["svit_mix_665k"]["records"])
    ]


def test_without_llava_files_the_mixes_build_empty_and_svit_mix_refuses(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(BUNDLED_SAMPLE, source, ignore=shutil.ignore_patterns("format", "llava"))
    wh = Warehouse(tmp_path / "wh")
    run_ingest(source, (), wh, progress=False)
    assert build_with_manifests(wh, quiet=True)[1] == []  # built empty: no manifest
    assert query(wh, "select (select count(*) from mix_svit_core_150k), (select count(*) from mix_svit_mix_665k)") == [
        (0, 0)
    ]
    with pytest.raises(SvitError, match="needs llava_v1_5_mix665k, llava_instruct_150k, svit_core_150k ingested"):
        build_mix(wh, "mix_svit_mix_665k")


def test_published_mixes_export_byte_for_byte_as_the_official_files(built_sample, tmp_path):
    """Rebuilt from the warehouse and exported like BAAI's files (indent 4, UTF-8): the same
    bytes, integer ids, text-only records without `image` and the `model` key included."""
    from svit.cli import BUNDLED_SAMPLE
    from svit.export import export

    for model, official in (("mix_svit_core_150k", "SVIT_core_150K.json"), ("mix_svit_mix_665k", "SVIT_mix_665K.json")):
        out = tmp_path / f"{model}.json"
        export(built_sample, model, out, "llava", indent=4, progress=False)
        assert out.read_bytes() == (BUNDLED_SAMPLE / "format" / "llava-v1.5" / official).read_bytes(), model
