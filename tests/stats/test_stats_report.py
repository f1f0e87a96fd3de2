"""The report files: Markdown, self-contained HTML, CSV tables, valid PNGs; --compare; empty models;
no report inside the warehouse but in its report/ folder."""

from __future__ import annotations

import base64
import csv
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from PIL import Image

from svit.cli import cli
from svit.core.errors import SvitError
from svit.stats import render_analysis, run_stats
from tests.helpers import one_line_error, query, svit_cli, warehouse_contents

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_report_files_exist_with_valid_pngs(default_report):
    out = default_report.out_dir
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 4
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(png) as image:
            image.verify()
        assert f"]({png.name})" in (out / "report.md").read_text()
    assert {p.stem for p in (out / "csv").glob("*.csv")} >= set(default_report.tables)
    with (out / "csv" / "svit_task_sizes.csv").open() as f:
        assert [r["task"] for r in csv.DictReader(f)] == [
            "conversation",
            "complex_reasoning",
            "detail_description",
            "referring_qa",
        ]


def test_html_inlines_every_image(default_report):
    page = (default_report.out_dir / "report.html").read_text()
    inlined = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(inlined) == len(list(default_report.out_dir.glob("*.png")))
    assert all(base64.b64decode(data).startswith(PNG_SIGNATURE) for data in inlined)
    assert "<table>" in page and 'src="svit' not in page


def test_compare_puts_two_models_side_by_side(built_sample, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "stats",
            "--warehouse",
            str(built_sample.root),
            "--out",
            str(tmp_path),
            "--compare",
            "svit_core_150k",
            "llava_svit_all",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "svit_core_150k" in result.output and "llava_svit_all" in result.output
    with (tmp_path / "csv" / "compare_side_by_side.csv").open() as f:
        rows = {r["statistic"]: r for r in csv.DictReader(f)}
    assert rows["records"]["svit_core_150k"] == "438"
    assert rows["records"]["llava_svit_all"] == "8599"
    assert "| statistic | svit_core_150k | llava_svit_all |" in (tmp_path / "report.md").read_text()


def test_empty_model_gives_a_report_saying_no_records(built_sample, tmp_path):
    con = duckdb.connect(str(built_sample.duckdb_path))
    try:
        con.execute("create or replace table main.empty_mix as select * from llava_svit_all limit 0")
    finally:
        con.close()
    report = run_stats(built_sample, tmp_path / "one", models=["empty_mix"])
    assert "empty_mix: no records" in (tmp_path / "one" / "report.md").read_text()
    assert "empty_mix: no records" in (tmp_path / "one" / "report.html").read_text()
    assert any("empty_mix" in line and "no records" in line for line in report.summary_lines())
    compared = run_stats(built_sample, tmp_path / "two", compare=("empty_mix", "svit_core_150k"))
    assert "empty_mix: no records" in (tmp_path / "two" / "report.md").read_text()
    assert compared.tables["llava_model_sizes"].dicts()[0]["model"] == "svit_core_150k"


def test_unknown_model_names_the_models(built_sample, tmp_path):
    with pytest.raises(SvitError, match="unknown model 'nope'.*llava_svit_all"):
        run_stats(built_sample, tmp_path, models=["nope"])


def test_analyses_render_as_dbt_would_with_default_vars():
    sql = render_analysis("llava_model_sizes")
    assert 'from "llava_svit_all"' in sql and 'from "stg_llava__records"' in sql
    assert "{{" not in sql and "{%" not in sql


# --------------------------------------------------------------------------- the report folder


def _linked_report(root: Path, tmp: Path) -> Path:
    """A report folder outside the warehouse whose report.md is a link to svit.duckdb."""
    folder = tmp / "linked"
    folder.mkdir()
    (folder / "report.md").symlink_to(root / "svit.duckdb")
    return folder


def _linked_csv(root: Path, tmp: Path) -> Path:
    folder = tmp / "linked_csv"
    (folder / "csv").mkdir(parents=True)
    (folder / "csv" / "svit_task_sizes.csv").symlink_to(sorted(root.glob("images/*.parquet"))[0])
    return folder


REPORT_REFUSED = [
    ("a folder in mixes/", lambda root, tmp: root / "mixes" / "report", "is inside the warehouse {root}"),
    ("the warehouse itself", lambda root, tmp: root, "is the warehouse {root} itself"),
    ("a table's folder", lambda root, tmp: root / "turns", "is table data of the warehouse {root} (it resolves to"),
    ("report.md linked to the database", _linked_report, "is the warehouse's database {root}/svit.duckdb"),
    ("a csv linked to a table file", _linked_csv, "is table data of the warehouse {root} (it resolves to"),
]


@pytest.mark.parametrize("case, out_of, says", REPORT_REFUSED, ids=[r[0] for r in REPORT_REFUSED])
def test_a_report_inside_the_warehouse_is_refused(guarded, tmp_path, case, out_of, says):
    root = guarded.root
    out = out_of(root, tmp_path)
    before = warehouse_contents(root)
    with pytest.raises(SvitError) as info:
        run_stats(guarded, out)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--out ")
    assert says.format(root=root) in message
    assert message.endswith(f"; write the report outside it or into {root}/report/")
    assert warehouse_contents(root) == before
    [(records,)] = query(guarded, "select count(*) from llava_svit_all")
    assert records > 0


def test_the_warehouse_report_folder_is_allowed(built_sample):
    # On the shared warehouse itself: a copy's views still read the original's Parquet files,
    # which the read-only session does not let them reach. report/ is the one place allowed.
    out = built_sample.root / "report"
    assert not out.exists()
    try:
        report = run_stats(built_sample, out, compare=("svit_core_150k", "llava_svit_all"))
        assert report.out_dir == out and (out / "report.md").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_cli_refuses_a_report_inside_the_warehouse_in_one_line(guarded):
    out = guarded.root / "mixes" / "report"
    proc = svit_cli("stats", "--warehouse", str(guarded.root), "--out", str(out))
    assert one_line_error(proc) == (
        f"svit: --out {out} is inside the warehouse {guarded.root}; write the report outside it or into "
        f"{guarded.root}/report/"
    )
    assert not out.exists()


def test_a_report_folder_that_is_a_file_is_refused(built_sample, tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("mine")
    with pytest.raises(SvitError, match=f"--out {out} is a file; the report is a folder"):
        run_stats(built_sample, out)
    assert out.read_text() == "mine"
