"""The report files: Markdown, self-contained HTML, CSV tables, valid PNGs; --compare; empty models;
no report inside the warehouse but in its report/ folder."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from PIL import Image

from svit.cli import cli
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse
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


def test_compare_puts_two_models_side_by_side(sample_warehouse, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "stats",
            "--warehouse",
            str(sample_warehouse.root),
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


# --------------------------------------------------------------------------- the report folder


@pytest.fixture(scope="module")
def guarded(sample_warehouse, tmp_path_factory) -> Warehouse:
    """A copy of the sample warehouse, its symlinks kept: a refusal that failed would write into
    it, not into the warehouse the other tests share."""
    root = tmp_path_factory.mktemp("guarded") / "warehouse"
    shutil.copytree(sample_warehouse.root, root, symlinks=True)
    return Warehouse(root.resolve())


def contents(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (links not followed): a file's bytes as a hash, a link's target."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                out[key] = ("link", os.readlink(path))
            elif path.is_file():
                out[key] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                out[key] = ("folder",)
    return out


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
    before = contents(root)
    with pytest.raises(SvitError) as info:
        run_stats(guarded, out)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--out ")
    assert says.format(root=root) in message
    assert message.endswith(f"; write the report outside it or into {root}/report/")
    assert contents(root) == before
    con = duckdb.connect(str(guarded.duckdb_path), read_only=True)
    try:
        assert con.execute("select count(*) from llava_svit_all").fetchall()[0][0] > 0
    finally:
        con.close()


def test_the_warehouse_report_folder_is_allowed(sample_warehouse):
    # On the shared warehouse itself: a copy's views still read the original's Parquet files,
    # which the read-only session does not let them reach. report/ is the one place allowed.
    out = sample_warehouse.root / "report"
    assert not out.exists()
    try:
        report = run_stats(sample_warehouse, out, compare=("svit_core_150k", "llava_svit_all"))
        assert report.out_dir == out and (out / "report.md").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_cli_refuses_a_report_inside_the_warehouse_in_one_line(guarded):
    out = guarded.root / "mixes" / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "stats", "--warehouse", str(guarded.root), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"svit: --out {out} is inside the warehouse {guarded.root}; write the report outside it or into "
        f"{guarded.root}/report/"
    ]
    assert not out.exists()


def test_a_report_folder_that_is_a_file_is_refused(sample_warehouse, tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("mine")
    with pytest.raises(SvitError, match=f"--out {out} is a file; the report is a folder"):
        run_stats(sample_warehouse, out)
    assert out.read_text() == "mine"
