"""`svit drop-mix NAME`: a user mix goes, all of it; a published mix or an unknown name is
refused in one line."""

from __future__ import annotations

from svit.mix import build_mix
from tests.helpers import one_line_error, query, svit_cli

RECIPE = "name: {name}\nsources:\n  - source: llava_svit_detail_description\n    take: {take}\n"


def relations(warehouse, name: str) -> list[str]:
    rows = query(warehouse, f"select table_name from duckdb_tables() where table_name like '{name}%' order by 1")
    return [r[0] for r in rows]


def test_drop_mix_removes_the_table_the_manifest_and_its_row(built_sample, tmp_path):
    recipe = tmp_path / "to_drop.yml"
    recipe.write_text(RECIPE.format(name="to_drop", take=4))
    result = build_mix(built_sample, str(recipe))
    assert relations(built_sample, "to_drop") == ["to_drop", "to_drop__coverage", "to_drop__sources"]
    assert result.manifest_path.is_file()
    proc = svit_cli("drop-mix", "to_drop", "--warehouse", str(built_sample.root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"dropped mix to_drop: tables to_drop, to_drop__sources, to_drop__coverage; manifest "
        f"{result.manifest_path}; its row in mix_manifests\n"
    )
    assert relations(built_sample, "to_drop") == []
    assert not result.manifest_path.exists()
    assert query(built_sample, "select count(*) from mix_manifests where mix = 'to_drop'") == [(0,)]
    # The name is free again: another recipe takes it without --replace.
    recipe.write_text(RECIPE.format(name="to_drop", take=6))
    assert build_mix(built_sample, str(recipe)).records == 6
    svit_cli("drop-mix", "to_drop", "--warehouse", str(built_sample.root))


def test_an_unknown_name_is_refused_with_the_mixes_listed(built_sample, tmp_path):
    recipe = tmp_path / "kept_mix.yml"
    recipe.write_text(RECIPE.format(name="kept_mix", take=2))
    build_mix(built_sample, str(recipe))
    user = [r[0] for r in query(built_sample, "select mix from mix_manifests where kind = 'user' order by mix")]
    assert "kept_mix" in user
    for name in ("no_such_mix", "llava_svit_all"):
        proc = svit_cli("drop-mix", name, "--warehouse", str(built_sample.root))
        assert one_line_error(proc) == (
            f"svit: no user mix named '{name}' in {built_sample.root}; user mixes: {', '.join(user)} "
            "(published, not droppable: mix_svit_core_150k, mix_svit_mix_665k)"
        )
    assert relations(built_sample, "kept_mix") == ["kept_mix", "kept_mix__coverage", "kept_mix__sources"]


def test_a_published_mix_cannot_be_dropped(built_sample):
    for name in ("mix_svit_core_150k", "mix_svit_mix_665k"):
        proc = svit_cli("drop-mix", name, "--warehouse", str(built_sample.root))
        assert one_line_error(proc) == (
            f"svit: {name} is a published mix, a model of the project that `svit build` makes again: "
            "it cannot be dropped (only user mixes, built from a recipe, can)"
        )
        assert relations(built_sample, name) == [name]
        assert (built_sample.root / "mixes" / f"{name}.manifest.json").is_file()
