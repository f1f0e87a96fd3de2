"""`svit verify`: official records matched by content, compared string for string."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import duckdb

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import run_dbt
from svit.core.warehouse import Warehouse
from svit.verify import verify
from tests.helpers import TRUTH

BOX = r"\[[0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\]"


def test_bundled_sample_official_files_match_the_derived_records(built_sample):
    reports = {r.source: r for r in verify(built_sample)}
    core = reports["SVIT_core_150K.json"]
    assert (core.records, core.matched, core.differing, core.unmatched) == (
        TRUTH["core"]["records"],
        TRUTH["core"]["records"],
        0,
        0,
    )
    assert core.instructions == TRUTH["core"]["referring_instructions"]
    mix = reports["SVIT_mix_665K.json"]
    assert mix.records == TRUTH["svit_mix_665k"]["records"]
    assert (mix.matched, mix.differing) == (TRUTH["core"]["records"], 0)
    per_record = (
        duckdb.connect()
        .sql(f"select status, instruction, count(*) from '{core.per_record}' group by all order by all")
        .fetchall()
    )
    assert per_record == sorted(
        [("matched", None, TRUTH["core"]["records"] - sum(TRUTH["core"]["referring_instructions"].values()))]
        + [("matched", s, n) for s, n in TRUTH["core"]["referring_instructions"].items()],
        key=lambda r: (r[0], r[1] is None, r[1] or ""),
    )


def test_a_changed_official_record_is_reported_and_fails(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(BUNDLED_SAMPLE, source)
    official = source / "format" / "llava-v1.5" / "SVIT_core_150K.json"
    records = json.loads(official.read_text())
    # A box moved: the record still matches by content (numbers are not part of the match).
    target = next(i for i, r in enumerate(records) if re.search(BOX, r["conversations"][1]["value"]))
    answer = records[target]["conversations"][1]["value"]
    box = re.search(BOX, answer).group()
    edited_box = "[0.999, " + box[1:].split(", ", 1)[1]
    records[target]["conversations"][1]["value"] = answer.replace(box, edited_box, 1)
    official.write_text(json.dumps(records, indent=4, ensure_ascii=False))
    (source / "format" / "llava-v1.5" / "SVIT_mix_665K.json").unlink()
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (), warehouse, progress=False)
    run_dbt(warehouse, "build", quiet=True)

    [report] = verify(warehouse)
    assert (report.differing, report.unmatched) == (1, 0)
    [difference] = report.differences
    assert difference["record_index"] == target and difference["turn"] == 1
    assert edited_box in difference["official"]["value"] and edited_box not in difference["derived"]["value"]

    proc = subprocess.run(
        [sys.executable, "-m", "svit.cli", "verify", "--warehouse", str(warehouse.root)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "1 differing" in proc.stdout and edited_box in proc.stdout
    assert proc.stderr.strip() == "svit: 1 official records differ from what the warehouse derives"
