"""A recipe's drops: `max_tokens` leaves out the records `svit tokens` counted over the limit,
`exclude` those `svit check` found under the rules named; both before the filter, counted per
reason in the manifest, per source or for every source, and refused when the counts or the
check are missing or describe records the source no longer holds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from svit.check import check
from svit.core.errors import SvitError
from svit.mix import build_mix
from svit.tokens import run_tokens
from tests.helpers import query, svit_cli

LIMIT = 700
RULES = ("duplicate_id", "truncated_answer")

DROP_RECIPE = f"""\
name: dropped_check
max_tokens: {LIMIT}
exclude: [{", ".join(RULES)}]
sources:
  - source: llava_v1_5_mix665k       # 1: both drops, from the top
  - source: llava_v1_5_mix665k       # 2: its own limit, no exclusion, and a filter after the drops
    max_tokens: {{limit: 1000, family: llava-1.5}}
    exclude: []
    filter: image_prefix = 'coco'
  - source: llava_svit_detail_description   # 3: drops switched off
    max_tokens:
    exclude:
    take: 5
"""


def write(tmp_path, text: str, name: str = "recipe.yml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def counted(guarded):
    check(guarded, "llava_v1_5_mix665k")
    run_tokens(guarded, "llava-1.5", models=["llava_v1_5_mix665k"], progress=False)
    return guarded


@pytest.fixture(scope="module")
def dropped_mix(counted, tmp_path_factory):
    """The recipe built by the command, as a user would: its output and its manifest."""
    proc = svit_cli("--warehouse", str(counted.root), "mix", write(tmp_path_factory.mktemp("drops"), DROP_RECIPE))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((counted.root / "mixes" / "dropped_check.manifest.json").read_text())
    return counted, SimpleNamespace(manifest=manifest, stdout=proc.stdout)


def over(warehouse, limit: int) -> set[int]:
    return {
        r
        for (r,) in query(
            warehouse,
            f"select record from record_tokens where model = 'llava_v1_5_mix665k' and family = 'llava-1.5' "
            f"and total_tokens > {limit}",
        )
    }


def found(warehouse, rule: str) -> set[int]:
    return {
        r
        for (r,) in query(
            warehouse,
            f"select record_index from check_results where model = 'llava_v1_5_mix665k' and rule = '{rule}'",
        )
    }


def test_drops_leave_out_exactly_the_counted_and_found_records(dropped_mix):
    warehouse, result = dropped_mix
    all_records = set(range(1847))
    too_long, duplicates, truncated = over(warehouse, LIMIT), found(warehouse, RULES[0]), found(warehouse, RULES[1])
    # The sample has records of each kind, and records of more than one kind.
    assert too_long and len(duplicates) == 289 and len(truncated) == 2
    picked = {i for (i,) in query(warehouse, "select source_record_index from dropped_check where source_number = 1")}
    assert picked == all_records - too_long - duplicates - truncated
    first = result.manifest["sources"][0]
    assert first["dropped_by"] == {
        "max_tokens": len(too_long),
        f"exclude: {RULES[0]}": 289,
        f"exclude: {RULES[1]}": 2,
    }
    assert first["dropped"] == len(too_long | duplicates | truncated)
    assert (first["available"], first["filtered"], first["selected"]) == (1847, len(picked), len(picked))
    assert first["drops"] == {
        "max_tokens": {"limit": LIMIT, "family": "llava-1.5", "tokenizer": "mistral-v1"},
        "exclude": list(RULES),
        "images": None,
    }


def test_a_source_replaces_the_top_drops_and_filters_what_is_left(dropped_mix):
    warehouse, result = dropped_mix
    second, third = result.manifest["sources"][1], result.manifest["sources"][2]
    coco = {
        i
        for (i,) in query(
            warehouse,
            "select record_index from stg_llava__records where llava_file = 'llava_v1_5_mix665k' "
            "and split_part(image, '/', 1) = 'coco'",
        )
    }
    assert over(warehouse, 1000)
    kept = coco - over(warehouse, 1000)
    picked = {i for (i,) in query(warehouse, "select source_record_index from dropped_check where source_number = 2")}
    assert picked == kept and second["filtered"] == len(kept)
    assert second["dropped_by"] == {"max_tokens": len(over(warehouse, 1000))}
    assert (third["dropped"], third["dropped_by"], third["drops"], third["selected"]) == (0, {}, None, 5)


def test_mix_prints_what_was_dropped(dropped_mix):
    _, result = dropped_mix
    first = result.manifest["sources"][0]
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in first["dropped_by"].items())
    assert f"dropped {first['dropped']:>11,}  ({reasons})" in result.stdout


@pytest.mark.parametrize(
    ("drops", "message"),
    [
        (
            "exclude: [empty_turn]",
            "exclude needs llava_svit_conversation checked: run `svit check llava_svit_conversation` first",
        ),
        ("max_tokens: 100", "max_tokens: no token counts of llava_svit_conversation"),
        ("exclude: [single_modality]", None),
        ("exclude: [no_such_rule]", None),
        ("max_tokens: -3", "max_tokens must be a whole number of tokens >= 1"),
        ("max_tokens: {limit: 10, family: internvl, size: 3}", "got the keys family, limit, size"),
        ("exclude: 7", "exclude must be a list of `svit check` rules, not 7"),
    ],
)
def test_drops_that_cannot_apply_are_refused_in_one_line(counted, tmp_path, drops, message):
    source = "llava_v1_5_mix665k" if message is None else "llava_svit_conversation"
    recipe = write(tmp_path, f"name: refused_drops\n{drops}\nsources:\n  - source: {source}\n")
    with pytest.raises(SvitError) as error:
        build_mix(counted, recipe)
    text = str(error.value)
    assert "\n" not in text and text.startswith(recipe)
    if message is None:
        assert ("judges a model as a whole" in text) if "single" in drops else ("unknown rule 'no_such_rule'" in text)
    else:
        assert message in text


def test_counts_of_several_tokenizers_must_be_named(counted, tmp_path):
    run_tokens(counted, "qwen2-vl", models=["llava_v1_5_mix665k"], progress=False)
    recipe = write(tmp_path, "name: two_families\nmax_tokens: 900\nsources:\n  - source: llava_v1_5_mix665k\n")
    with pytest.raises(
        SvitError,
        match=r"token counts of several kinds \(family llava-1.5, tokenizer mistral-v1; "
        r"family qwen2-vl, tokenizer qwen2\)",
    ):
        build_mix(counted, recipe)
    named = write(
        tmp_path,
        "name: two_families\nmax_tokens: {limit: 900, family: qwen2-vl}\nsources:\n  - source: llava_v1_5_mix665k\n",
    )
    result = build_mix(counted, named)
    # Qwen2-VL's image tokens need the image size: the file's COCO, GQA, ... images have none
    # known here, so those records are not judged and not kept.
    [(long, unknown)] = query(
        counted,
        "select count(*) filter (where total_tokens > 900), count(*) filter (where total_tokens is null) "
        "from record_tokens where model = 'llava_v1_5_mix665k' and family = 'qwen2-vl'",
    )
    assert unknown > 0
    expected = {"max_tokens": long, "max_tokens: size unknown": unknown}
    assert result.manifest["sources"][0]["dropped_by"] == {k: v for k, v in expected.items() if v}


def test_a_mix_changed_since_its_check_or_count_is_refused_and_drop_mix_forgets_them(counted, tmp_path):
    first = write(tmp_path, "name: stale_base\nsources:\n  - source: llava_v1_5_mix665k\n    take: 100\n", "a.yml")
    build_mix(counted, first)
    check(counted, "stale_base")
    run_tokens(counted, "llava-1.5", models=["stale_base"], progress=False)
    user = write(tmp_path, "name: on_stale\nexclude: [duplicate_id]\nsources:\n  - source: stale_base\n", "u.yml")
    # The base mix rebuilt from another recipe: the same name, other records.
    build_mix(
        counted,
        write(
            tmp_path, "name: stale_base\nseed: 9\nsources:\n  - source: llava_v1_5_mix665k\n    take: 100\n", "b.yml"
        ),
        replace=True,
    )
    with pytest.raises(SvitError, match=r"stale_base changed since it was checked .*run `svit check stale_base` again"):
        build_mix(counted, user, replace=True)
    tokens = write(tmp_path, "name: on_stale2\nmax_tokens: 5000\nsources:\n  - source: stale_base\n", "t.yml")
    with pytest.raises(SvitError, match=r"miss \d+ of its records as it holds them now"):
        build_mix(counted, tokens)
    svit_cli("--warehouse", str(counted.root), "drop-mix", "stale_base").check_returncode()
    for table in ("record_tokens", "check_results", "check_runs"):
        assert query(counted, f"select count(*) from {table} where model = 'stale_base'") == [(0,)]
