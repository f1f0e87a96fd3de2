"""`svit demo` on the bundled sample, and the bundled sample itself."""

from __future__ import annotations

import json
import subprocess
import sys

from svit.cli import BUNDLED_SAMPLE
from synth.corpus import generate_corpus
from tests.helpers import TRUTH, file_hashes


def test_bundled_sample_is_what_the_generator_makes(tmp_path):
    params = TRUTH["generator"]
    fresh = tmp_path / "fresh"
    generate_corpus(fresh, images=params["images"], seed=params["seed"], zip_data=params["zip"])
    assert file_hashes(fresh) == file_hashes(BUNDLED_SAMPLE)
    assert 200 <= params["images"] <= 500 and params["zip"]


def test_demo_runs_every_built_stage_on_the_bundled_sample(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "demo", "--warehouse", str(tmp_path / "wh")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    turns = sum(TRUTH["turns_per_task"].values())
    assert f"{turns:,} turns" in proc.stdout
    assert f"{TRUTH['boxes_total']:,} boxes" in proc.stdout
    assert "0 rejects" in proc.stdout
    assert "dbt models built" in proc.stdout
    assert f"{sum(TRUTH['blocks_per_task'].values()):,} records of llava_svit_all" in proc.stdout
    exported = json.loads((tmp_path / "wh" / "exports" / "llava_svit_all.json").read_text())
    assert len(exported) == sum(TRUTH["blocks_per_task"].values())
    assert (tmp_path / "wh" / "turns").is_dir()
    assert "stats " in proc.stdout and (tmp_path / "wh" / "report" / "report.html").is_file()
    assert "skipped" not in proc.stdout
    # One line per stage after the two that say where: no reader's detail lines (those are for `svit ingest -v`).
    stages = [line.split()[0] for line in proc.stdout.splitlines()[2:]]
    assert stages == ["ingest", "build", "export", "images", "stats"], proc.stdout
