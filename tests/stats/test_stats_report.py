"""The report files: Markdown, self-contained HTML, CSV tables, valid PNGs; --compare; empty models."""

from __future__ import annotations

import base64
import csv
import re

import duckdb
import pytest
from click.testing import CliRunner
from PIL import Image

from svit.cli import cli
from svit.errors import SvitError
from svit.stats import render_analysis, run_stats

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
        assert [r["task"] for r in csv.DictReader(f)] == ["conversation", "complex_reasoning", "detail_description", "referring_qa"]


def test_html_inlines_every_image(default_report):
    page = (default_report.out_dir / "report.html").read_text()
    inlined = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(inlined) == len(list(default_report.out_dir.glob("*.png")))
    assert all(base64.b64decode(data).startswith(PNG_SIGNATURE) for data in inlined)
    assert "<table>" in page and 'src="svit' not in page


def test_compare_puts_two_models_side_by_side(sample_warehouse, tmp_path):
    result = CliRunner().invoke(cli, ["stats", "--warehouse", str(sample_warehouse.root), "--out", str(tmp_path),
                                      "--compare", "svit_core_150k", "llava_svit_all"])
    assert result.exit_code == 0, result.output
    assert "svit_core_150k" in result.output and "llava_svit_all" in result.output
    with (tmp_path / "csv" / "compare_side_by_side.csv").open() as f:
        rows = {r["statistic"]: r for r in csv.DictReader(f)}
    assert rows["records"]["svit_core_150k"] == "438"
    assert rows["records"]["llava_svit_all"] == "8599"
    assert "| statistic | svit_core_150k | llava_svit_all |" in (tmp_path / "report.md").read_text()


def test_empty_model_gives_a_report_saying_no_records(sample_warehouse, tmp_path):
    con = duckdb.connect(str(sample_warehouse.duckdb_path))
    try:
        con.execute("create or replace table main.empty_mix as select * from llava_svit_all limit 0")
    finally:
        con.close()
    report = run_stats(sample_warehouse, tmp_path / "one", models=["empty_mix"])
    assert "empty_mix: no records" in (tmp_path / "one" / "report.md").read_text()
    assert "empty_mix: no records" in (tmp_path / "one" / "report.html").read_text()
    assert any("empty_mix" in line and "no records" in line for line in report.summary_lines())
    compared = run_stats(sample_warehouse, tmp_path / "two", compare=("empty_mix", "svit_core_150k"))
    assert "empty_mix: no records" in (tmp_path / "two" / "report.md").read_text()
    assert compared.tables["llava_model_sizes"].dicts()[0]["model"] == "svit_core_150k"


def test_unknown_model_names_the_models(sample_warehouse, tmp_path):
    with pytest.raises(SvitError, match="unknown model 'nope'.*llava_svit_all"):
        run_stats(sample_warehouse, tmp_path, models=["nope"])


def test_analyses_render_as_dbt_would_with_default_vars():
    sql = render_analysis("llava_model_sizes")
    assert 'from "llava_svit_all"' in sql and 'from "stg_llava__records"' in sql
    assert "{{" not in sql and "{%" not in sql
