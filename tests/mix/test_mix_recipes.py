"""User recipes: what they select, how they upsample, and how bad ones are refused."""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter

import pytest

from svit.core.errors import SvitError
from svit.mix import build_mix
from tests.helpers import TRUTH, llava_records_of_model, one_line_error, query, svit_cli

RECIPE = """\
name: test_mix
seed: 11
sources:
  - source: llava_svit_conversation
    take: 25
    filter: n_qa >= 3 and task = 'conversation'
  - source: mix_svit_core_150k
    take: 1000
    upsample: true
  - source: llava_v1_5_mix665k
    take: first:7
    filter: image_prefix = 'none'
  - source: llava_svit_detail_description
    take: 0.25
  - source: llava_svit_referring_qa
    take: all
    filter: has_boxes and gpt_words > 40
"""


@pytest.fixture(scope="module")
def built_test_mix(built_sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("recipes") / "test_mix.yml"
    path.write_text(RECIPE)
    first = build_mix(built_sample, str(path))
    records = llava_records_of_model(built_sample, "test_mix")
    rows = query(
        built_sample, "select mix_source, source_record_index, repeat_index, id from test_mix order by record_order"
    )
    second = build_mix(built_sample, str(path))  # the same recipe file may be built again under its name
    return first, second, records, rows


def test_same_recipe_and_seed_give_the_same_records_in_the_same_order(built_test_mix, built_sample):
    first, second, records, rows = built_test_mix
    assert llava_records_of_model(built_sample, "test_mix") == records
    assert (
        query(
            built_sample, "select mix_source, source_record_index, repeat_index, id from test_mix order by record_order"
        )
        == rows
    )
    assert first.manifest["sources"] == second.manifest["sources"]


def test_counts_per_source(built_test_mix, built_sample):
    manifest = built_test_mix[1].manifest
    sources = {s["source"]: s for s in manifest["sources"]}
    [(long_convs,)] = query(built_sample, "select count(*) from llava_svit_conversation where len(conversations) >= 6")
    assert (
        sources["llava_svit_conversation"].items()
        >= {
            "available": TRUTH["blocks_per_task"]["conversation"],
            "filtered": long_convs,
            "selected": 25,
            "upsampled": 0,
        }.items()
    )
    detail = TRUTH["blocks_per_task"]["detail_description"]
    assert sources["llava_svit_detail_description"]["selected"] == int(0.25 * detail + 0.5)  # rounded half up
    assert sources["llava_v1_5_mix665k"]["filtered"] == TRUTH["llava_mix665k"]["records_without_image"]
    assert sources["llava_v1_5_mix665k"]["selected"] == 7
    assert manifest["records"] == sum(s["selected"] for s in manifest["sources"])
    assert manifest["sources"][0]["take"] == "25" and manifest["sources"][0]["filter"].startswith("n_qa")
    [(stored,)] = query(built_sample, "select manifest from mix_manifests where mix = 'test_mix'")
    assert json.loads(stored)["sources"] == manifest["sources"]
    assert (built_test_mix[1].manifest_path.parent / "test_mix.manifest.json").is_file()


def test_upsampling_repeats_every_record_then_picks_the_remainder(built_test_mix):
    _, second, _, rows = built_test_mix
    core = TRUTH["core"]["records"]
    source = next(s for s in second.manifest["sources"] if s["source"] == "mix_svit_core_150k")
    assert (source["available"], source["selected"], source["upsampled"]) == (core, 1000, 1000 - core)
    copies = Counter(index for name, index, _, _ in rows if name == "mix_svit_core_150k")
    assert len(copies) == core  # every record at least once
    assert Counter(copies.values()) == {1000 // core + 1: 1000 % core, 1000 // core: core - 1000 % core}


def test_filters_and_first_n_select_what_they_say(built_test_mix, built_sample):
    _, _, records, rows = built_test_mix
    text_only = [r for r in records if "image" not in r]
    assert len(text_only) == 7 and all(r.get("model") == "" for r in text_only)
    [(first_seven,)] = query(
        built_sample,
        """
        select list(record_index order by record_index) from (
            select record_index from stg_llava__records
            where llava_file = 'llava_v1_5_mix665k' and not has_image order by record_index limit 7)""",
    )
    assert [i for name, i, _, _ in rows if name == "llava_v1_5_mix665k"] == first_seven
    convs = [r for r, (name, *_) in zip(records, rows, strict=True) if name == "llava_svit_conversation"]
    assert all(len(r["conversations"]) >= 6 for r in convs)
    referring = [r for r, (name, *_) in zip(records, rows, strict=True) if name == "llava_svit_referring_qa"]
    assert referring and all(len(r["conversations"][1]["value"].split(" ")) > 40 for r in referring)
    # Picked records keep their source order within the source.
    order = [i for name, i, _, _ in rows if name == "llava_svit_conversation"]
    assert order == sorted(order) and len(set(order)) == 25


def test_another_seed_picks_other_records(built_sample, tmp_path, built_test_mix):
    path = tmp_path / "other.yml"
    path.write_text(RECIPE.replace("name: test_mix", "name: test_mix_seed").replace("seed: 11", "seed: 12"))
    build_mix(built_sample, str(path))
    sql = "select list(source_record_index order by record_order) from {} where mix_source = 'llava_svit_conversation'"
    assert query(built_sample, sql.format("test_mix_seed")) != query(built_sample, sql.format("test_mix"))


BAD = [
    ("unknown source", "  - source: no_such_model\n    take: all\n", 4, "unknown source 'no_such_model'"),
    ("fraction above 1", "  - source: llava_svit_all\n    take: 1.5\n", 5, "within 0..1"),
    ("negative count", "  - source: llava_svit_all\n    take: -3\n", 5, "must not be negative"),
    ("negative first", "  - source: llava_svit_all\n    take: first:-3\n", 5, "must not be negative"),
    ("filter does not parse", "  - source: llava_svit_all\n    filter: n_turns >\n", 5, "does not parse"),
    ("filter names no column", "  - source: llava_svit_all\n    filter: nonsense_column > 2\n", 5, "does not parse"),
    ("two statements", "  - source: llava_svit_all\n    filter: 'true; drop table x'\n", 5, "does not parse"),
    (
        "unknown select",
        "  - source: llava_svit_all\n    take: 5\n    select: greedy\n",
        6,
        "select must be random or coverage, not 'greedy'",
    ),
    (
        "coverage of all",
        "  - source: llava_svit_all\n    select: coverage\n",
        5,
        "select: coverage orders the records it picks, so take must be a count or a fraction, not all",
    ),
    (
        "coverage of first:N",
        "  - source: llava_svit_all\n    take: first:9\n    select: coverage\n",
        6,
        "take must be a count or a fraction, not first:9",
    ),
    (
        "yes_no_ratio above 1",
        "  - source: llava_svit_all\n    take: 5\n    yes_no_ratio: 1.5\n",
        6,
        "yes_no_ratio must be a number within 0..1",
    ),
    (
        "yes_no_ratio as text",
        "  - source: llava_svit_all\n    yes_no_ratio: half\n",
        5,
        "yes_no_ratio must be a number within 0..1 .*not 'half'",
    ),
    ("upsample as text", "  - source: llava_svit_all\n    take: 9\n    upsample: yes please\n", 6, "upsample must be"),
    (
        "upsample of all",
        "  - source: llava_svit_all\n    upsample: true\n",
        5,
        "upsample: true repeats records up to a count, and take is all",
    ),
    (
        "upsample of first:N",
        "  - source: llava_svit_all\n    take: first:9\n    upsample: true\n",
        6,
        "and take is first:9",
    ),
    (
        "upsample and repeat",
        "  - source: llava_svit_all\n    take: 9\n    upsample: true\n    repeat: 2\n",
        6,
        "give upsample: true .* or repeat: k .*, not both",
    ),
    (
        "upsample with yes_no_ratio",
        "  - source: llava_svit_all\n    take: 9\n    yes_no_ratio: 0.5\n    upsample: true\n",
        7,
        "a source with yes_no_ratio never repeats records: drop upsample: true",
    ),
    ("repeat 0", "  - source: llava_svit_all\n    repeat: 0\n", 5, "repeat must be a whole number >= 1 .*not 0"),
    ("repeat 1.5", "  - source: llava_svit_all\n    repeat: 1.5\n", 5, "repeat must be a whole number >= 1 .*not 1.5"),
    (
        "repeat with yes_no_ratio",
        "  - source: llava_svit_all\n    yes_no_ratio: 0.5\n    repeat: 2\n",
        6,
        "a source with yes_no_ratio never repeats records: drop repeat",
    ),
]


@pytest.mark.parametrize("case, source, line, message", BAD, ids=[b[0] for b in BAD])
def test_bad_recipe_names_file_and_line_and_builds_nothing(built_sample, tmp_path, case, source, line, message):
    path = tmp_path / "bad.yml"
    path.write_text("name: bad_mix\nseed: 1\nsources:\n" + source)
    with pytest.raises(SvitError, match=message) as caught:
        build_mix(built_sample, str(path))
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert query(built_sample, "select count(*) from duckdb_tables() where table_name = 'bad_mix'") == [(0,)]


@pytest.mark.parametrize("name", ["llava_svit_all", "mix_svit_core_150k", "llava_v1_5_mix665k", "x__coverage"])
def test_a_mix_name_that_is_taken_is_refused(built_sample, tmp_path, name):
    path = tmp_path / "dup.yml"
    path.write_text(f"sources:\n  - source: llava_svit_all\nname: {name}\n")
    with pytest.raises(SvitError, match=f"{path}:3: mix name '{name}' is taken"):
        build_mix(built_sample, str(path))


def test_a_copy_of_the_recipe_builds_the_same_mix_under_its_name(built_test_mix, built_sample, tmp_path):
    """The name is bound to the recipe's content, not its file: a copy elsewhere (comments and
    key order aside) builds the same mix again."""
    _, _, records, rows = built_test_mix
    path = tmp_path / "elsewhere" / "copy.yml"
    path.parent.mkdir()
    path.write_text("# the same recipe, copied and commented\n" + RECIPE.replace("seed: 11\n", "") + "seed: 11\n")
    result = build_mix(built_sample, str(path))
    assert result.replaced is None and result.manifest["recipe_file"] == str(path.resolve())
    assert llava_records_of_model(built_sample, "test_mix") == records
    sql = "select mix_source, source_record_index, repeat_index, id from test_mix order by record_order"
    assert query(built_sample, sql) == rows
    assert result.manifest["recipe_digest"] == built_test_mix[0].manifest["recipe_digest"]


def test_a_changed_recipe_of_a_built_name_needs_replace(built_sample, tmp_path):
    first = tmp_path / "first.yml"
    first.write_text("name: replace_me\nsources:\n  - source: llava_svit_detail_description\n    take: 5\n")
    build_mix(built_sample, str(first))
    changed = tmp_path / "changed.yml"
    changed.write_text("name: replace_me\nsources:\n  - source: llava_svit_detail_description\n    take: 7\n")
    with pytest.raises(SvitError) as caught:
        build_mix(built_sample, str(changed))
    assert str(caught.value) == (
        f"{changed}:1: mix name 'replace_me' is taken by a mix built from another recipe ({first.resolve()}); "
        "add --replace to rebuild it from this one, or choose another name"
    )
    assert query(built_sample, "select count(*) from replace_me") == [(5,)]  # nothing was built
    # The same file, edited, says so.
    first.write_text(first.read_text().replace("take: 5", "take: 6"))
    with pytest.raises(
        SvitError, match=re.escape(f"{first}:1: the mix 'replace_me' was built from this file when it read")
    ):
        build_mix(built_sample, str(first))
    # --replace rebuilds it, and says what it replaced.
    proc = svit_cli("mix", str(changed), "--replace", "--warehouse", str(built_sample.root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "replace_me: 7 records",
        f"  replaced: the mix replace_me built before from other recipe content ({first.resolve()})",
    ]
    assert query(built_sample, "select count(*) from replace_me") == [(7,)]
    [(recipe_file, stored)] = query(
        built_sample, "select recipe_file, manifest from mix_manifests where mix = 'replace_me'"
    )
    assert recipe_file == str(changed.resolve()) and json.loads(stored)["recipe"]["sources"][0]["take"] == 7
    # A published mix has no recipe to replace.
    proc = svit_cli("mix", "mix_svit_core_150k", "--replace", "--warehouse", str(built_sample.root))
    assert one_line_error(proc) == (
        "svit: --replace is for recipe files: mix_svit_core_150k is a published mix, always built by its own rule"
    )


def _last_dbt_parse(warehouse) -> str:
    """What dbt's debug log says of parsing in its last run on `warehouse`."""
    log = (warehouse.root / "dbt" / "logs" / "dbt.log").read_text()
    last = log[log.rindex("Running with dbt") :]
    return "\n".join(line for line in last.splitlines() if "arsing" in line)


def test_a_recipe_changed_but_in_name_and_models_is_not_parsed_again(built_sample, tmp_path):
    """dbt parses the mix models from the recipe's outline (name and models), and reads the rest
    only when it runs them: a changed seed or take spares dbt's parse, and still builds the
    recipe as it is now."""
    recipe = tmp_path / "parsed.yml"
    base = "name: parse_once\nseed: {seed}\nsources:\n  - source: {source}\n    take: {take}\n"
    recipe.write_text(base.format(seed=1, source="llava_svit_detail_description", take=5))
    build_mix(built_sample, str(recipe), replace=True)
    ids = query(built_sample, "select id from parse_once order by record_order")
    recipe.write_text(base.format(seed=2, source="llava_svit_detail_description", take=7))
    build_mix(built_sample, str(recipe), replace=True)
    assert "no changes found, skipping parsing" in _last_dbt_parse(built_sample)
    changed = query(built_sample, "select id from parse_once order by record_order")
    assert len(changed) == 7 and changed[:5] != ids  # the new take, in the new seed's order
    # Another model among the sources: the three mix models are parsed again, nothing else.
    recipe.write_text(base.format(seed=2, source="llava_svit_conversation", take=3))
    build_mix(built_sample, str(recipe), replace=True)
    updated = re.findall(r"Partial parsing: updated file: svit_warehouse://(\S+)", _last_dbt_parse(built_sample))
    assert sorted(updated) == [f"models/marts/mixes/mix_user{s}.sql" for s in ("", "_coverage", "_sources")]
    assert query(built_sample, "select distinct mix_source from parse_once") == [("llava_svit_conversation",)]


def test_cli_reports_a_bad_recipe_in_one_line(built_sample, tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        textwrap.dedent("""\
        name: cli_mix
        sources:
          - source: llava_svit_all
            take: 2.5
        """)
    )
    proc = svit_cli("mix", str(path), "--warehouse", str(built_sample.root))
    assert one_line_error(proc) == (
        f"svit: {path}:4: a fraction must lie within 0..1, not 2.5; write a count as a whole number"
    )


@pytest.mark.parametrize("name", ["mix_manifests", "turns", "sources", "stg_x", "int_x", "_x", "a__dbt_tmp"])
def test_a_reserved_mix_name_is_refused_and_nothing_is_built(built_sample, tmp_path, monkeypatch, name):
    def no_build(*args, **kwargs):
        raise AssertionError("dbt ran for a refused recipe")

    monkeypatch.setattr("svit.mix.build.run_dbt", no_build)
    manifests = query(built_sample, "select mix, built_at from mix_manifests order by mix")
    path = tmp_path / "reserved.yml"
    path.write_text(f"sources:\n  - source: llava_svit_all\nname: {name}\n")
    with pytest.raises(SvitError) as caught:
        build_mix(built_sample, str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:3: mix name '{name}' is reserved; choose another (reserved: the tables ")
    assert "\n" not in message
    for reserved in (
        "images",
        "turns",
        "llava_records",
        "sources",
        "mix_manifests",
        "stg_",
        "int_",
        " _ ",
        "__dbt_",
    ):
        assert reserved in message.replace(",", " ")
    assert query(built_sample, "select mix, built_at from mix_manifests order by mix") == manifests
    [(tables,)] = query(built_sample, f"select count(*) from duckdb_tables() where table_name = '{name}'")
    assert tables == (1 if name == "mix_manifests" else 0)
    assert not (built_sample.root / "mixes" / f"{name}.manifest.json").exists()


def test_a_project_model_s_name_is_still_said_to_be_taken(built_sample, tmp_path):
    path = tmp_path / "model.yml"
    path.write_text("name: stg_svit__turns\nsources:\n  - source: llava_svit_all\n")
    with pytest.raises(SvitError, match=f"{path}:1: mix name 'stg_svit__turns' is taken by a model of the project"):
        build_mix(built_sample, str(path))
