"""Models know the snapshot they were built from; readers refuse stale models with one line."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import run_dbt
from svit.core.snapshots import models_snapshot
from svit.core.warehouse import Warehouse
from tests.helpers import svit_cli


def test_a_changed_source_without_a_rebuild_is_refused_until_svit_build(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(BUNDLED_SAMPLE, source)
    llava = source / "llava" / "llava_instruct_150k.json"
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(source, (llava,), warehouse, progress=False)
    run_dbt(warehouse, "build", quiet=True)
    built_from = (warehouse.root / "current").resolve().name
    assert models_snapshot(warehouse.root) == built_from
    wh = ("--warehouse", str(warehouse.root))
    status = svit_cli("status", *wh)
    assert status.returncode == 0 and f"models    fresh: built from {built_from}" in status.stdout

    records = json.loads(llava.read_text())
    llava.write_text(json.dumps(records[:-1]))
    assert svit_cli("ingest", str(source), "--llava", str(llava), *wh).returncode == 0
    now = (warehouse.root / "current").resolve().name
    stale = f"models were built from snapshot {built_from}, the warehouse is at {now}: run `svit build`"

    out = tmp_path / "out.json"
    for argv in (
        ("export", "llava_svit_all", "--out", str(out)),
        ("stats", "--out", str(tmp_path / "report")),
        ("mix", "mix_svit_core_150k"),
        ("verify",),
        ("sql", "select count(*) from llava_svit_all"),
    ):
        proc = svit_cli(*argv, *wh)
        assert proc.returncode == 1, argv
        alone = ", or --no-models to query the tables alone" if argv[0] == "sql" else ""
        expected = f"svit: {stale} (or pass --allow-stale to read them anyway{alone})"
        assert proc.stderr.strip().splitlines() == [expected], argv
    assert not out.exists() and not (tmp_path / "report").exists()
    assert svit_cli("status", *wh).returncode == 1
    # The snapshot the models read is kept while they are stale: --allow-stale reads it, and says so.
    assert (warehouse.root / ".snapshots" / built_from).is_dir()
    proc = svit_cli("export", "llava_svit_all", "--out", str(out), "--allow-stale", *wh)
    assert proc.returncode == 0 and f"svit: warning: {stale}; going on with --allow-stale" in proc.stderr
    # An ingested file is not a model: it is read from the tables, fresh, without a build.
    proc = svit_cli("export", "llava_instruct_150k", "--out", str(tmp_path / "file.json"), *wh)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads((tmp_path / "file.json").read_text())) == len(records) - 1
    # Tables alone are never stale.
    proc = svit_cli(
        "sql",
        "select count(*) from llava_records where source = 'llava_instruct_150k'",
        "--no-models",
        "--format",
        "csv",
        *wh,
    )
    assert proc.returncode == 0 and proc.stdout.split() == ["count_star()", str(len(records) - 1)]
    # A partial build would mix the two snapshots in svit.duckdb.
    proc = svit_cli("build", "--select", "llava_svit_conversation", *wh)
    assert proc.returncode == 1 and "a partial build would mix the two" in proc.stderr

    # A table an earlier version of the project built (python_round3_ties, a seed once) goes.
    con = duckdb.connect(str(warehouse.duckdb_path))
    con.execute("create table python_round3_ties as select 0 as k, 1 as rounds_up")
    con.close()
    run_dbt(warehouse, "build", quiet=True)
    assert models_snapshot(warehouse.root) == now
    relations = svit_cli("sql", "--tables", *wh)
    assert relations.returncode == 0 and "python_round3_ties" not in relations.stdout
    assert not (warehouse.root / ".snapshots" / built_from).exists()  # no model reads it any more
    proc = svit_cli("sql", "select count(*) from llava_svit_all", "--format", "csv", *wh)
    assert proc.returncode == 0, proc.stderr
    # The views read the snapshot they were built from, named in their definition.
    con = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    try:
        [(sql,)] = con.execute("select sql from duckdb_views() where view_name = 'stg_svit__turns'").fetchall()
    finally:
        con.close()
    assert f".snapshots/{now}/turns" in sql


def ingest_one_record(tmp_path, warehouse: Warehouse, record_id: str) -> str:
    """Ingest a one-record LLaVA file (mine.json) into `warehouse`: the snapshot it publishes."""
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    turns = [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]
    llava = tmp_path / "mine.json"
    llava.write_text(json.dumps([{"id": record_id, "conversations": turns}]))
    run_ingest(empty, (llava,), warehouse, progress=False)
    return (warehouse.root / "current").resolve().name


def test_a_build_that_did_not_finish_keeps_both_snapshots_and_says_so(tmp_path, monkeypatch):
    """Before dbt runs, the record names the snapshot the build moves to and the one the models
    read: a failed build leaves views on the new one and tables on the old one."""
    from svit.core import dbt as core_dbt
    from svit.core.errors import SvitError
    from svit.core.snapshots import models_record, models_snapshots, write_models_record

    warehouse = Warehouse(tmp_path / "wh")
    old = ingest_one_record(tmp_path, warehouse, "a")
    warehouse.duckdb_path.write_bytes(b"")  # a models database exists
    write_models_record(warehouse.root, {"snapshot": old, "complete": True})
    new = ingest_one_record(tmp_path, warehouse, "b")

    def dbt_fails(*args, **kwargs):
        raise SvitError("dbt build failed (stg_svit__turns)")

    monkeypatch.setattr(core_dbt, "_run_dbt_process", dbt_fails)
    with pytest.raises(SvitError, match="dbt build failed"):
        core_dbt.run_dbt(warehouse, "build", quiet=True)
    assert models_record(warehouse.root) == {"snapshot": new, "complete": False, "previous": old}
    assert models_snapshots(warehouse.root) == {old, new}
    assert warehouse.stale_models() == f"the last `svit build` (to snapshot {new}) did not finish: run `svit build`"
    with pytest.raises(SvitError, match="a partial build would mix the two"):
        core_dbt.run_dbt(warehouse, "build", ("--select", "llava_svit_all"), quiet=True)
    ingest_one_record(tmp_path, warehouse, "c")  # a third snapshot: both the models may read stay
    assert (warehouse.root / ".snapshots" / old).is_dir() and (warehouse.root / ".snapshots" / new).is_dir()


def test_a_user_mix_knows_its_own_snapshot(tmp_path):
    """A full build does not rebuild user mixes: a mix built before an ingest is stale by itself."""
    from svit.core.snapshots import write_models_record

    warehouse = Warehouse(tmp_path / "wh")
    current = ingest_one_record(tmp_path, warehouse, "a")
    warehouse.duckdb_path.write_bytes(b"")
    write_models_record(warehouse.root, {"snapshot": current, "complete": True})
    (warehouse.root / "mixes").mkdir()
    manifest = {"mix": "my_mix", "kind": "user", "snapshot": "20200101T000000000000Z", "recipe_file": "/r/my_mix.yml"}
    (warehouse.root / "mixes" / "my_mix.manifest.json").write_text(json.dumps(manifest))
    assert warehouse.stale_models() is None
    assert warehouse.stale_models("my_mix") == (
        f"mix my_mix was built from snapshot 20200101T000000000000Z, the warehouse is at {current}: "
        "run `svit mix /r/my_mix.yml`"
    )
