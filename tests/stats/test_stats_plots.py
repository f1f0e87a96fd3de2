"""The report's plots and page: shared (and integer) histogram bins, one image-prefix plot in
--compare, labelled axes, `code` rendered in the HTML, the header (date, warehouse, snapshot,
versions)."""

from __future__ import annotations

import re

import matplotlib
import pytest

from svit.stats import Table, run_stats
from svit.stats.report import bar_figure, histogram_counts, histogram_edges, histogram_figure

matplotlib.use("Agg", force=True)


@pytest.fixture(scope="module")
def compare_report(built_sample, tmp_path_factory):
    return run_stats(built_sample, tmp_path_factory.mktemp("compare"), compare=("svit_core_150k", "llava_svit_all"))


def _rows(table: Table, measure: str) -> list[dict]:
    return [r for r in table.dicts() if r["measure"] == measure]


def test_compared_models_share_integer_bins(compare_report):
    table = compare_report.tables["llava_text_lengths"]
    for measure in ("question words", "answer words"):
        rows = {r["scope"]: r for r in _rows(table, measure)}
        assert set(rows) == {"svit_core_150k", "llava_svit_all"}
        # the per-row SQL bins differ between the models: the plot does not use them
        assert rows["svit_core_150k"]["hist_lower"] != rows["llava_svit_all"]["hist_lower"]
        edges = histogram_edges(list(rows.values()))
        lo = min(min(r["hist_values"]) for r in rows.values())
        hi = max(max(r["hist_values"]) for r in rows.values())
        assert edges[0] == lo and edges[-2] <= hi < edges[-1]
        assert all(e == int(e) for e in edges)  # words are whole: integer edges
        widths = {b - a for a, b in zip(edges, edges[1:], strict=False)}
        assert len(widths) == 1 and widths.pop() >= 1
        for r in rows.values():  # every record counted once, in the shared bins
            counts = histogram_counts(r, edges)
            assert sum(counts) == r["n"] == sum(r["hist_value_counts"])
            assert counts[0] > 0 or r["min"] > edges[1]


def test_compare_plot_axes_share_edges_and_are_labelled(compare_report):
    table = compare_report.tables["llava_text_lengths"]
    fig = histogram_figure(table, ("question words", "answer words"), overlay=True)
    try:
        for ax, measure in zip(fig.axes, ("question words", "answer words"), strict=True):
            assert ax.get_xlabel() == measure and ax.get_ylabel() == "share of records"
            steps = ax.patches  # one StepPatch per model
            assert len(steps) == 2
            assert list(steps[0].get_data().edges) == list(steps[1].get_data().edges)
            assert list(steps[0].get_data().edges) == histogram_edges(_rows(table, measure))
    finally:
        matplotlib.pyplot.close(fig)


def test_integer_bins_have_no_empty_fractional_bins():
    rows = [
        {"hist_values": [1.0, 2.0, 3.0, 4.0, 5.0], "hist_value_counts": [1, 1, 1, 1, 1]},
        {"hist_values": [2.0, 5.0], "hist_value_counts": [3, 2]},
    ]
    edges = histogram_edges(rows)
    assert edges == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert histogram_counts(rows[1], edges) == [0, 3, 0, 0, 2]
    wide = [
        {"hist_values": [24.0, 474.0], "hist_value_counts": [1, 1]},
        {"hist_values": [1.0], "hist_value_counts": [7]},
    ]
    edges = histogram_edges(wide)
    assert edges[0] == 1.0 and all(e == int(e) for e in edges) and edges[-2] <= 474.0 < edges[-1]
    # a measure that is not whole numbers: equal-width bins, the last closed
    ratio = [{"hist_values": [0.5, 1.25, 2.5], "hist_value_counts": [1, 1, 1]}]
    edges = histogram_edges(ratio)
    assert edges[0] == 0.5 and edges[-1] == 2.5
    assert sum(histogram_counts(ratio[0], edges)) == 3 and histogram_counts(ratio[0], edges)[-1] == 1


def test_compare_writes_the_image_prefix_plot_once(compare_report):
    out = compare_report.out_dir
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert [p for p in pngs if "image_prefixes" in p] == ["models_image_prefixes.png"]
    md = (out / "report.md").read_text()
    assert md.count("image_prefixes.png)") == 1
    assert len(re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)) == len(pngs)


def test_every_plot_has_axis_labels(default_report):
    table = default_report.tables["svit_text_lengths"]
    fig = histogram_figure(table, ("question words", "answer words"))
    try:
        assert fig.axes and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        assert {ax.get_xlabel() for ax in fig.axes} == {"question words", "answer words"}
        assert all(ax.get_ylabel().startswith("number of records") for ax in fig.axes)
    finally:
        matplotlib.pyplot.close(fig)
    fig = bar_figure("Records by image prefix", ["coco", "vg"], {"a": [1, 2]}, "image prefix", "number of records")
    try:
        assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("image prefix", "number of records")
    finally:
        matplotlib.pyplot.close(fig)


def test_html_renders_code_spans(default_report):
    page = (default_report.out_dir / "report.html").read_text()
    body = page.split("<body>", 1)[1]
    assert "<code>svit stats</code>" in body and "<code>image</code>" in body
    assert "`" not in body.split("<img", 1)[0]  # no raw backticks in the text
    assert "`" not in re.sub(r'src="data:[^"]*"', "", body)


def test_report_header_has_date_warehouse_snapshot_versions(default_report, built_sample):
    import duckdb

    import svit

    snapshot = built_sample.snapshot()
    assert snapshot is not None
    md = (default_report.out_dir / "report.md").read_text()
    page = (default_report.out_dir / "report.html").read_text()
    assert re.search(r"^- Generated: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", md, re.M)
    assert f"- Warehouse: {built_sample.root}\n" in md
    assert f"- Snapshot: {snapshot.name}\n" in md
    versions = f"svit {svit.__version__}, duckdb {duckdb.__version__}, python "
    assert f"- Versions: {versions}" in md
    assert '<ul class="meta"><li>Generated: ' in page and f"<li>Snapshot: {snapshot.name}</li>" in page
    assert versions in page
