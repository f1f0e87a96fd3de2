"""`svit sql`: read-only SQL over a real warehouse (the bundled sample) and a real svit.duckdb."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.errors import SvitError
from svit.core.models_db import remove_stale_spill
from svit.core.tables import TABLES
from svit.core.warehouse import Warehouse
from svit.sql import query, run_sql
from tests.helpers import LLAVA_MIX665K, TRUTH
from tests.helpers import query as models_query

READ_ONLY = "svit sql runs read-only queries"


@pytest.fixture(scope="session")
def wh(tmp_path_factory) -> Warehouse:
    """The bundled sample corpus, ingested with its LLaVA files."""
    warehouse = Warehouse(tmp_path_factory.mktemp("sql") / "warehouse")
    llava = tuple(sorted((BUNDLED_SAMPLE / "llava").glob("*.json")))
    run_ingest(BUNDLED_SAMPLE, llava, warehouse, progress=False)
    return warehouse


@pytest.fixture
def own_wh(wh, tmp_path) -> Warehouse:
    """A warehouse of its own for tests that add svit.duckdb: the session tables, linked in."""
    root = tmp_path / "project" / "warehouse"
    root.mkdir(parents=True)
    for table in TABLES:
        (root / table).symlink_to((wh.root / table).resolve())
    return Warehouse(root)


def direct(warehouse: Warehouse, sql_over_t: str, table: str) -> list[tuple]:
    """`sql_over_t` with `t` read straight from the Parquet files."""
    con = duckdb.connect()
    source = f"read_parquet('{warehouse.root / table}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
    return con.sql(sql_over_t.replace("{t}", source)).fetchall()


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "svit.cli", "sql", *args], capture_output=True, text=True, cwd=cwd)


def output(warehouse: Warehouse, sql: str, fmt: str, models: bool = True) -> str:
    buffer = io.StringIO()
    run_sql(warehouse, sql, fmt, buffer, models=models)
    return buffer.getvalue()


# --------------------------------------------------------------------------- values


def test_every_table_counts_what_its_parquet_files_hold(wh):
    for table in TABLES:
        got = query(wh, f"select count(*) from {table}").rows
        assert got == direct(wh, "select count(*) from {t}", table), table
    assert query(wh, "select count(*) from turns").rows[0][0] > 20_000


def test_partition_columns_are_columns(wh):
    per_task = query(wh, "select task, count(*) from turns group by task order by task").rows
    assert per_task == direct(wh, "select task, count(*) from {t} group by task order by task", "turns")
    assert [task for task, _ in per_task] == ["complex_reasoning", "conversation", "detail_description", "referring_qa"]
    referring = query(wh, "select count(*) from boxes where task = 'referring_qa'").rows[0][0]
    assert referring == direct(wh, "select count(*) from {t}", "boxes")[0][0] > 0
    mix = query(wh, "select count(*) from llava_records where source = 'llava_v1_5_mix665k'").rows[0][0]
    assert mix == direct(wh, "select count(*) from {t} where source = 'llava_v1_5_mix665k'", "llava_records")[0][0] > 0
    assert query(wh, "select distinct split from coco_captions").rows == [("train2017",)]


def test_turns_and_llava_turns_spell_roles_alike(wh):
    """`where role = 'human'` finds the questions of SVIT and of a LLaVA file (docs/warehouse.md, "Roles")."""
    pairs = sum(TRUTH["qa_pairs_per_task"].values())
    assert query(wh, "select role, count(*) from turns group by role order by role").rows == [
        ("gpt", pairs),
        ("human", pairs),
    ]
    questions = query(wh, "select count(*) from turns where role = 'human' and task = 'referring_qa'").rows
    assert questions == [(TRUTH["qa_pairs_per_task"]["referring_qa"],)]
    both = query(
        wh,
        """select kind, role, count(*) from (select 'svit' as kind, role from turns
           union all select 'llava', role from llava_turns where source = 'llava_v1_5_mix665k')
           group by all order by all""",
    ).rows
    mix = json.loads(LLAVA_MIX665K.read_text())
    mix_questions = sum(1 for r in mix for t in r["conversations"] if t["from"] == "human")
    assert both == [
        ("llava", "gpt", sum(len(r["conversations"]) for r in mix) - mix_questions),
        ("llava", "human", mix_questions),
        ("svit", "gpt", pairs),
        ("svit", "human", pairs),
    ]


def test_json_output_parses_back_to_the_same_values(wh):
    sql = "select image_id, block, turn, role, text, task from turns where task = 'referring_qa' order by all limit 200"
    got = json.loads(output(wh, sql, "json"))
    expected = query(wh, sql)
    assert got == [dict(zip(expected.columns, row, strict=True)) for row in expected.rows]
    assert got[0]["task"] == "referring_qa" and "<st>" in "".join(r["text"] for r in got)
    unicode_rows = json.loads(output(wh, "select text from llava_turns where not text ~ '^[ -~\\n]*$' limit 5", "json"))
    assert unicode_rows and all(not r["text"].isascii() for r in unicode_rows)


def test_json_output_converts_duckdb_types(wh):
    sql = (
        "select [1, 2] as l, {'a': 1, 'b': [true]} as s, 1.50::decimal(4, 2) as d, date '2020-01-02' as day, "
        "null as n, 'nan'::double as f, 2.5::double as x, 2.5 as dec, 'ü' as u, '{\"k\": 1}'::json as j"
    )
    text = output(wh, sql, "json")
    assert "ü" in text  # UTF-8, not \u escapes
    assert json.loads(text) == [
        {
            "l": [1, 2],
            "s": {"a": 1, "b": [True]},
            "d": "1.50",
            "day": "2020-01-02",
            "n": None,
            "f": "nan",
            "x": 2.5,
            "dec": "2.5",
            "u": "ü",
            "j": {"k": 1},
        }
    ]
    assert output(wh, "select 1 as a where false", "json").strip() == "[]"


def test_csv_output_parses_back_to_the_same_values(wh):
    sql = "select image_id, block, n_turns, source_file, task from conversations order by all limit 300"
    rows = list(csv.reader(io.StringIO(output(wh, sql, "csv"))))
    expected = query(wh, sql)
    assert rows[0] == expected.columns
    assert rows[1:] == [[str(v) for v in row] for row in expected.rows]
    texts = list(
        csv.DictReader(
            io.StringIO(
                output(wh, "select text from turns where task = 'detail_description' order by all limit 20", "csv")
            )
        )
    )
    assert [r["text"] for r in texts] == [
        r[0] for r in query(wh, "select text from turns where task = 'detail_description' order by all limit 20").rows
    ]


def test_table_output_has_header_aligned_rows_and_row_count(wh):
    text = output(wh, "select task, count(*) as n from turns group by task order by task", "table")
    lines = text.splitlines()
    assert lines[0].split() == ["task", "n"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].startswith("complex_reasoning")
    assert lines[-1] == "(4 rows)"
    assert len({len(line) for line in lines[:-1]}) == 1  # aligned: numbers right-aligned to the same edge
    one = output(
        wh, "select text from turns where task = 'detail_description' and role = 'gpt' limit 1", "table"
    ).splitlines()
    assert one[-1] == "(1 row)" and one[2].endswith("…") and len(one[2]) == 60


def test_table_output_caps_rows_but_counts_all(wh):
    total = query(wh, "select count(*) from turns").rows[0][0]
    lines = output(wh, "select image_id from turns", "table").splitlines()
    assert len(lines) == 2 + 1000 + 1
    assert lines[-1].startswith(f"({total:,} rows; the first 1,000 shown")


def test_several_statements_print_the_last_result(wh):
    assert query(wh, "select setseed(0.5); select 41 + 1 as answer").rows == [(42,)]


# --------------------------------------------------------------------------- read-only


WRITES = {
    "create": "create table t as select 1",
    "insert": "insert into images select * from images",
    "copy": "copy (select * from images) to '{out}'",
    "drop": "drop view turns",
}


def _files(root):
    """What the warehouse holds, less the lock files readers take (svit/core/snapshots.py: .readers)."""
    return sorted(str(p) for p in root.rglob("*") if ".readers" not in p.relative_to(root).parts)


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_write_statement_exits_nonzero_and_creates_nothing(wh, tmp_path, kind):
    before = _files(wh.root)
    out = tmp_path / "copied.csv"
    proc = cli("--warehouse", str(wh.root), "select 1; " + WRITES[kind].format(out=out), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"svit: {READ_ONLY}") and len(proc.stderr.splitlines()) == 1
    assert proc.stdout == ""
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert _files(wh.root) == before


@pytest.mark.parametrize(
    "sql",
    [
        "explain analyze copy (select 1) to '{out}'",
        "explain create table t as select 1",
        "attach '{out}' as other",
        "set threads = 1",
        "pragma show_tables",
        "install httpfs",
        "export database '{out}'",
        "update images set width = 0",
    ],
)
def test_other_non_queries_are_refused(wh, tmp_path, sql):
    out = tmp_path / "x"
    with pytest.raises(SvitError, match=READ_ONLY):
        query(wh, sql.format(out=out))
    assert not out.exists()


def test_queries_of_every_kind_are_allowed(wh):
    assert query(wh, "with a as (select count(*) as n from images) select n from a").rows == [(300,)]
    assert query(wh, "from images select count(*)").rows == [(300,)]
    assert "image_id" in [r[0] for r in query(wh, "describe images").rows]
    assert ("turns",) in query(wh, "show tables").rows
    assert query(wh, "explain select * from turns").rows
    assert query(wh, "-- a comment\nexplain analyze select count(*) from boxes").rows


# --------------------------------------------------------------------------- errors


def test_sql_errors_give_duckdb_first_line_and_table_names(wh):
    proc = cli("--warehouse", str(wh.root), "select * from turn")
    assert proc.returncode == 1
    first, *hints = proc.stderr.splitlines()
    assert "Table with name turn does not exist" in first
    assert "Tables: images, conversations, turns, boxes" in first
    assert "svit build" in first  # no models yet, and why
    assert hints == ['  Did you mean "turns"?', "  LINE 1: select * from turn", "                        ^^^^"]
    with pytest.raises(SvitError, match=r'^Parser Error: syntax error at or near "selec"\n  LINE 1: selec 1\n'):
        query(wh, "selec 1")
    with pytest.raises(SvitError, match="Binder Error"):
        query(wh, "select no_such_column from images")


def test_sql_errors_show_duckdb_hints_indented_below(wh):
    """Candidate bindings and the LINE / caret pair, below the `svit: ...` line; no traceback."""
    proc = cli("--warehouse", str(wh.root), "select txt from turns")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == 'svit: Binder Error: Referenced column "txt" not found in FROM clause!'
    assert any(line.startswith("  Candidate bindings: ") and '"text"' in line for line in lines[1:]), lines
    at = lines.index("  LINE 1: select txt from turns")
    assert lines[at + 1] == "  " + " " * len("LINE 1: select ") + "^^^"  # under `txt`
    assert "Traceback" not in proc.stderr
    proc = cli("--warehouse", str(wh.root), "select * from turns where")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == 'svit: Parser Error: syntax error at or near "where"'
    assert lines[1] == "  LINE 1: select * from turns where"
    assert lines[2].index("^") == lines[1].index("where") and lines[2].strip() == "^^^^^"
    assert "Traceback" not in proc.stderr


def test_usage_error_without_a_query_or_tables(wh):
    for args in [(), ("--tables", "select 1")]:
        proc = cli("--warehouse", str(wh.root), *args)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith("svit: usage: svit sql") and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_missing_warehouse_says_to_ingest_first(tmp_path):
    proc = cli("--warehouse", str(tmp_path / "nothing"), "select 1")
    assert proc.returncode == 1
    assert "svit ingest" in proc.stderr and "svit demo" in proc.stderr


# --------------------------------------------------------------------------- dbt models


def _models_db(warehouse: Warehouse) -> None:
    con = duckdb.connect(str(warehouse.duckdb_path))
    con.execute(
        "create table llava_svit_demo as select * "
        "from (values ('svit_referring_qa_1_0', 2), ('svit_conversation_1_0', 4)) v(id, n_turns)"
    )
    con.execute("create schema main_staging")
    con.execute("create view main_staging.stg_demo as select id from llava_svit_demo")
    con.close()


def test_models_are_queryable_by_name(own_wh):
    _models_db(own_wh)
    assert query(own_wh, "select id, n_turns from llava_svit_demo order by id").rows == [
        ("svit_conversation_1_0", 4),
        ("svit_referring_qa_1_0", 2),
    ]
    assert query(own_wh, "select count(*) from stg_demo join llava_svit_demo using (id)").rows == [(2,)]
    assert query(own_wh, "select count(*) from images").rows == [(300,)]
    with pytest.raises(SvitError, match="models: llava_svit_demo, stg_demo"):
        query(own_wh, "select * from llava_svit_nope")
    with pytest.raises(SvitError, match=READ_ONLY):
        query(own_wh, "delete from llava_svit_demo")
    with pytest.raises(SvitError, match="does not exist"):
        query(own_wh, "select * from llava_svit_demo", models=False)


def test_tables_lists_the_user_facing_relations_with_descriptions(own_wh):
    con = duckdb.connect(str(own_wh.duckdb_path))
    con.execute("create view llava_svit_all as select 1 as id")
    con.execute("create table my_mix as select 1 as id")
    con.execute("create table my_mix__sources as select 1 as source_number")
    con.execute("create table mix_manifests as select 'my_mix' as mix, 'user' as kind, 'recipes/my.yml' as recipe_file")
    con.execute("create schema main_staging")
    con.execute("create view main_staging.stg_svit__turns as select 1 as id")
    con.execute("create schema main_intermediate")
    con.execute("create view main_intermediate.int_turns_rendered as select 1 as id")
    con.close()
    proc = cli("--warehouse", str(own_wh.root), "--tables")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line.split(None, 1)[1] for line in proc.stdout.splitlines()}
    assert list(lines)[: len(TABLES)] == list(TABLES)  # the tables first, in their order
    assert lines["turns"].startswith("One row per SVIT turn")
    assert lines["llava_svit_all"].startswith("SVIT in LLaVA-1.5 format") and lines["llava_svit_all"].endswith(".")
    assert "\n" not in lines["llava_svit_all"]
    assert lines["my_mix"] == "A mix built by `svit mix` (recipe recipes/my.yml)."
    assert all(lines.values())  # every relation has a description
    for internal in ("stg_svit__turns", "int_turns_rendered", "my_mix__sources"):
        assert internal not in lines
    assert "stg_svit__turns" in query(own_wh, "show tables").rows.__str__()  # still queryable
    proc = cli("--warehouse", str(own_wh.root), "--tables", "--no-models")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(TABLES)


def test_relative_paths_in_external_models_work_from_any_cwd(own_wh, tmp_path, monkeypatch):
    """dbt-duckdb `external` models are views over Parquet at paths relative to where dbt ran."""
    project = own_wh.root.parent
    (own_wh.root / "marts").mkdir()
    monkeypatch.chdir(project)  # as dbt run from the project, with the warehouse at ./warehouse
    con = duckdb.connect(str(own_wh.duckdb_path))
    con.execute("copy (select 7 as n) to 'warehouse/marts/llava_svit_ext.parquet'")
    con.execute("create view llava_svit_ext as select * from read_parquet('warehouse/marts/llava_svit_ext.parquet')")
    con.close()
    monkeypatch.chdir(own_wh.root)  # as dbt run from inside the warehouse
    con = duckdb.connect(str(own_wh.duckdb_path))
    con.execute("copy (select 8 as n) to 'marts/mix_rel.parquet'")
    con.execute("create view mix_rel as select * from read_parquet('marts/mix_rel.parquet')")
    con.close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert query(own_wh, "select n from llava_svit_ext union all select n from mix_rel order by n").rows == [(7,), (8,)]
    proc = cli("--warehouse", str(own_wh.root), "--format", "csv", "select n from llava_svit_ext", cwd=Path("/"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "n\n7\n"


def test_model_views_may_call_the_dbt_plugin_functions(own_wh):
    """int_* views call Python functions dbt-duckdb registers from profiles.yml's plugins."""
    from svit.core.baai_procedure import expand_box_text_to_square
    from svit.dbt_plugin import Plugin

    con = duckdb.connect(str(own_wh.duckdb_path))
    Plugin("svit.dbt_plugin", {}).configure_connection(con)
    con.execute(
        "create view int_demo as select svit_expand_boxes_baai('a <st>cat<ed> [0.1, 0.2, 0.3, 0.4]', 100, 50) as t"
    )
    con.close()
    assert query(own_wh, "select t from int_demo").rows == [
        (expand_box_text_to_square("a <st>cat<ed> [0.1, 0.2, 0.3, 0.4]", 100, 50),)
    ]
    with pytest.raises(SvitError, match="Function with name no_such_function does not exist"):
        query(own_wh, "select no_such_function(1)")


def test_locked_models_file_names_the_writer_and_no_models_still_works(own_wh):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(own_wh.duckdb_path)!r})\n"
            "con.execute('create table llava_svit_demo as select 1 as n')\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        proc = cli("--warehouse", str(own_wh.root), "select count(*) from turns")
        assert proc.returncode == 1
        message = proc.stderr.strip()
        assert len(message.splitlines()) == 1
        assert str(own_wh.duckdb_path) in message and "is locked" in message
        assert f"process {holder.pid}" in message
        assert "build" in message and "wait for it to finish" in message.lower() and "--no-models" in message
        assert time.monotonic() - started < 10  # fails at once, does not wait for the lock
        proc = cli(
            "--warehouse", str(own_wh.root), "--no-models", "--format", "csv", "select count(*) as n from images"
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "n\n300\n"
    finally:
        holder.kill()
        holder.wait()
    assert query(own_wh, "select n from llava_svit_demo").rows == [(1,)]  # the writer gone, models are back


# --------------------------------------------------------------------------- containment


NO_EXTENSIONS = "svit sql does not install or load extensions"


def _outside_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect().execute(f"copy (select 42 as n) to '{path}'")
    return path


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "select * from read_text('/etc/passwd')",
            "svit sql reads only the warehouse: read_text('/etc/passwd') is outside {root}",
        ),
        (
            "select * from read_blob('/etc/passwd')",
            "svit sql reads only the warehouse: read_blob('/etc/passwd') is outside {root}",
        ),
        ("select * from glob('/etc/*')", "svit sql reads only the warehouse: glob('/etc/*') is outside {root}"),
        (
            "select * from read_parquet('{outside}')",
            "svit sql reads only the warehouse: read_parquet('{outside}') is outside {root}",
        ),
        ("select * from '{outside}'", "svit sql reads only the warehouse: '{outside}' is outside {root}"),
        (
            "select * from sqlite_scan('x.db', 't')",
            NO_EXTENSIONS
            + (
                " (the built-in ones, such as parquet and json, are always there): "
                "sqlite_scan is in DuckDB's sqlite_scanner extension"
            ),
        ),
        ("INSTALL httpfs", f"{READ_ONLY}; refused this LOAD statement (INSTALL httpfs): {NO_EXTENSIONS}"),
        ("LOAD httpfs", f"{READ_ONLY}; refused this LOAD statement (LOAD httpfs): {NO_EXTENSIONS}"),
        (
            "SET enable_external_access=true",
            f"{READ_ONLY}; refused this SET statement (SET enable_external_access=true): its settings are locked",
        ),
        (
            "select * from read_csv('https://example.com/x.csv')",
            (
                "svit sql does not use the network: read_csv('https://example.com/x.csv') is refused "
                "(it reads only the warehouse {root})"
            ),
        ),
    ],
)
def test_access_outside_the_warehouse_is_refused_in_one_line(wh, tmp_path, sql, expected):
    outside = _outside_parquet(tmp_path)
    with pytest.raises(SvitError) as caught:
        query(wh, sql.format(outside=outside))
    message = str(caught.value)
    assert message.startswith(expected.format(root=wh.root, outside=outside)), message
    assert "\n" not in message


def test_refusals_through_the_cli_exit_1_with_one_line(wh, tmp_path):
    for sql, expected in [
        (
            "select * from read_text('/etc/passwd')",
            f"svit: svit sql reads only the warehouse: read_text('/etc/passwd') is outside {wh.root}\n",
        ),
        ("select * from sqlite_scan('x.db', 't')", f"svit: {NO_EXTENSIONS}"),
        ("select count(*) from read_csv('https://example.com/x.csv')", "svit: svit sql does not use the network"),
    ]:
        proc = cli("--warehouse", str(wh.root), sql, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith(expected) and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout and proc.stdout == ""


def test_a_url_is_refused_before_any_connection(wh):
    """A listening socket on localhost sees no connection attempt from the query."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        for url in (f"http://127.0.0.1:{port}/x.csv", f"http://127.0.0.1:{port}/x.parquet"):
            function = "read_parquet" if url.endswith(".parquet") else "read_csv"
            with pytest.raises(SvitError, match="svit sql does not use the network"):
                query(wh, f"select * from {function}('{url}')")
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_a_link_in_the_warehouse_to_outside_is_refused(own_wh, tmp_path):
    outside = _outside_parquet(tmp_path)
    (own_wh.root / "escape").symlink_to(outside.parent)
    for sql in (
        f"select * from read_parquet('{own_wh.root}/escape/secret.parquet')",
        f"select * from read_parquet('{own_wh.root}/escape/*.parquet')",
    ):
        with pytest.raises(SvitError, match="svit sql reads only the warehouse: read_parquet"):
            query(own_wh, sql)


def test_tables_and_models_work_with_the_restrictions_on(built_sample):
    settings = query(
        built_sample,
        "select current_setting('enable_external_access'), current_setting('autoload_known_extensions'), "
        "current_setting('autoinstall_known_extensions'), current_setting('lock_configuration')",
    ).rows
    assert settings == [(False, False, False, True)]
    sql = "select count(*), count(distinct id) from llava_svit_all"
    assert query(built_sample, sql).rows == models_query(built_sample, sql)
    per_task = "select task, count(*) from turns group by task order by task"
    assert query(built_sample, per_task).rows == direct(built_sample, per_task.replace("turns", "{t}"), "turns")
    staged = "select count(*) from stg_svit__images"
    assert query(built_sample, staged).rows == models_query(built_sample, staged) == [(300,)]
    root = built_sample.root.resolve()
    assert query(built_sample, f"select count(*) > 0 from glob('{root}/**/*.parquet')").rows == [(True,)]
    assert query(built_sample, f"select count(*) from read_parquet('{root}/images/**/*.parquet')").rows == [(300,)]


def test_settings_cannot_be_changed_back(wh):
    from svit.core.session import open_session

    for sql in (
        "set enable_external_access = true",
        "reset enable_external_access",
        "set autoload_known_extensions = true",
        "set lock_configuration = false",
    ):
        with pytest.raises(SvitError, match=READ_ONLY):
            query(wh, sql)
    with pytest.raises(SvitError, match="set_config does not exist"):
        query(wh, "select set_config('enable_external_access', 'true')")
    with pytest.raises(SvitError, match="Expected a single SELECT statement"):
        query(wh, "select * from query('set enable_external_access = true')")
    # Even past svit's statement check, straight on the connection, DuckDB refuses.
    session = open_session(wh)
    try:
        for sql in (
            "set enable_external_access = true",
            "set allowed_directories = ['/']",
            "set allowed_paths = ['/etc/passwd']",
            "set autoload_known_extensions = true",
            "set autoinstall_known_extensions = true",
            "set lock_configuration = false",
            "set temp_directory = '/tmp'",
        ):
            with pytest.raises(duckdb.Error, match="locked|disabled"):
                session.con.execute(sql)
        assert session.con.execute("select current_setting('enable_external_access')").fetchone() == (False,)
    finally:
        session.close()
    with pytest.raises(SvitError, match="reads only the warehouse"):
        query(wh, "select * from read_text('/etc/passwd')")


def test_leftover_temp_dir_of_a_dead_run_is_removed(wh, tmp_path, monkeypatch):
    import os
    import tempfile

    from svit.core.session import open_session

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = tmp_path / f"svit-sql-{finished.pid}-k1ll3d_x"
    (dead / "duckdb_temp_storage").mkdir(parents=True)
    (dead / "duckdb_temp_storage" / "spill.tmp").write_bytes(b"x" * 100)
    alive = tmp_path / f"svit-sql-{os.getppid()}-running"  # pytest's parent: alive
    alive.mkdir()
    unrelated = tmp_path / "svit-sql-notapid"
    unrelated.mkdir()
    session = open_session(wh, models=False)
    try:
        assert session.temp_dir.parent == tmp_path
        assert session.temp_dir.name.startswith(f"svit-sql-{os.getpid()}-")
        assert not dead.exists()
        assert alive.is_dir() and unrelated.is_dir()
        assert session.con.execute("select count(*) from images").fetchone() == (300,)
    finally:
        session.close()
    assert not session.temp_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, unrelated.name])


def test_spill_files_of_a_killed_duckdb_process_are_removed_those_of_a_live_one_kept(tmp_path):
    warehouse = Warehouse(tmp_path / "w")
    spill = tmp_path / "w" / "svit.duckdb.tmp"
    spill.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, live = int(gone.stdout), os.getpid()
    for pid in (dead, live):
        (spill / f"duckdb_temp_{pid}_0_owner").touch()
        (spill / f"duckdb_temp_{pid}_0_storage_DEFAULT-0.tmp").write_bytes(b"x" * 10)
    (spill / "notes.txt").touch()
    assert remove_stale_spill(warehouse) == 2
    assert sorted(p.name for p in spill.iterdir()) == [
        f"duckdb_temp_{live}_0_owner",
        f"duckdb_temp_{live}_0_storage_DEFAULT-0.tmp",
        "notes.txt",
    ]


def test_a_session_takes_the_memory_limit_its_command_gives(wh, monkeypatch):
    """svit stats reads with SVIT_STATS_MEMORY as DuckDB's limit (its peak otherwise grows with
    the data); sessions of other commands keep DuckDB's default."""
    from svit.core import settings
    from svit.core.session import open_session

    monkeypatch.setenv("SVIT_STATS_MEMORY", "300MB")
    limited = open_session(wh, memory_limit=settings.stats_memory_limit())
    default = open_session(wh)
    try:
        [(limit,)] = limited.con.execute("select current_setting('memory_limit')").fetchall()
        [(other,)] = default.con.execute("select current_setting('memory_limit')").fetchall()
    finally:
        limited.close()
        default.close()
    assert limit == "286.1 MiB"  # 300 MB as DuckDB prints it
    assert other != limit
