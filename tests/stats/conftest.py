"""The default report of the bundled sample, made once per session."""

from __future__ import annotations

import pytest

from svit.stats import StatsReport, run_stats


@pytest.fixture(scope="session")
def default_report(built_sample, tmp_path_factory) -> StatsReport:
    return run_stats(built_sample, tmp_path_factory.mktemp("report"))
