"""Token lengths in the report: their distributions and the records over a cut-off, equal to
record_tokens as `svit tokens` wrote it; without counts the report says which command adds them."""

from __future__ import annotations

import statistics

import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.warehouse import Warehouse
from svit.stats import run_stats
from svit.tokens import run_tokens
from svit.workflows import build_with_manifests
from tests.helpers import query, svit_cli

MODEL = "llava_v1_5_mix665k"


@pytest.fixture(scope="module")
def counted_report(tmp_path_factory):
    # A warehouse of its own: the shared one must stay without counts (the default report),
    # and a copy's models read the original's snapshot, which a stats session may not.
    warehouse = Warehouse(tmp_path_factory.mktemp("tokens_warehouse"))
    run_ingest(BUNDLED_SAMPLE, (BUNDLED_SAMPLE / "llava" / f"{MODEL}.json",), warehouse, progress=False)
    build_with_manifests(warehouse, quiet=True)
    run_tokens(warehouse, "llava-1.5", models=[MODEL], progress=False)
    out = tmp_path_factory.mktemp("tokens_report")
    return warehouse, run_stats(warehouse, out, models=[MODEL], max_length=700)


def test_token_distributions_equal_the_counts(counted_report):
    warehouse, report = counted_report
    totals = [t for (t,) in query(warehouse, f"select total_tokens from record_tokens where model = '{MODEL}'")]
    texts = [t for (t,) in query(warehouse, f"select text_tokens from record_tokens where model = '{MODEL}'")]
    rows = {r["measure"]: r for r in report.tables["llava_token_lengths"].dicts() if r["scope"] == MODEL}
    total, text = rows["total tokens · llava-1.5 · mistral-v1"], rows["text tokens · llava-1.5 · mistral-v1"]
    assert (total["n"], total["min"], total["max"]) == (1847, min(totals), max(totals))
    assert total["mean"] == pytest.approx(statistics.fmean(totals))
    assert total["p50"] == pytest.approx(statistics.median(totals))
    assert (text["n"], text["max"]) == (1847, max(texts)) and text["mean"] == pytest.approx(statistics.fmean(texts))
    # LLaVA-1.5: 576 image positions for every image record, none for the text-only ones.
    image = rows["image tokens · llava-1.5 · mistral-v1"]
    assert set(image["hist_values"]) == {0, 576}


def test_records_over_the_cut_off_are_counted(counted_report):
    warehouse, report = counted_report
    [(over, longest)] = query(
        warehouse,
        f"select count(*) filter (where total_tokens > 700), max(total_tokens) from record_tokens "
        f"where model = '{MODEL}'",
    )
    assert over > 0
    [row] = report.tables["llava_token_over_length"].dicts()
    assert row == {
        "model": MODEL,
        "family": "llava-1.5",
        "tokenizer": "mistral-v1",
        "max_length": 700,
        "records": 1847,
        "counted": 1847,
        "over": over,
        "over_share": pytest.approx(over / 1847),
        "size_unknown": 0,
        "longest": longest,
    }
    assert f"{MODEL} (llava-1.5, mistral-v1): {over:,} records over 700 tokens" in "\n".join(report.summary_lines())
    markdown = (report.out_dir / "report.md").read_text()
    assert "## Models: tokens per record" in markdown and "(models_token_histograms.png)" in markdown


def test_the_family_cut_off_is_the_default(counted_report, tmp_path):
    warehouse, _ = counted_report
    proc = svit_cli("--warehouse", str(warehouse.root), "stats", "--model", MODEL, "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert f"{MODEL} (llava-1.5, mistral-v1): 0 records over 2,048 tokens (0.00%)" in proc.stdout


def test_without_counts_the_report_says_what_adds_them(default_report):
    assert "llava_token_lengths" not in default_report.tables
    markdown = (default_report.out_dir / "report.md").read_text()
    assert "## Models: tokens per record\n\nNot computed: needs the table record_tokens (svit tokens --family F)." in (
        markdown
    )
