"""The warehouse keeps what it was given: declared sources, drops on purpose, no silent loss."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.pipeline import IngestReport, drop_sources, run_ingest
from svit.cli import cli
from svit.core.errors import InputError, SvitError
from svit.core.snapshots import write_lock
from svit.core.warehouse import Warehouse
from tests.helpers import REPO, count, one_line_error, svit_cli, table


def llava_file(path: Path, n: int, prefix: str = "r") -> Path:
    records = [
        {
            "id": f"{prefix}{i}",
            "image": f"coco/train2017/{i:012d}.jpg",
            "conversations": [
                {"from": "human", "value": f"<image>\nWhat is {i}?"},
                {"from": "gpt", "value": f"It is {i}."},
            ],
        }
        for i in range(n)
    ]
    path.write_text(json.dumps(records))
    return path


def llava_only(tmp_path: Path) -> tuple[Warehouse, Callable[..., IngestReport]]:
    """A new warehouse, and a function that ingests LLaVA files into it alone (the download
    folder given with them is empty)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    warehouse = Warehouse(tmp_path / "wh")

    def ingest(*files: Path) -> IngestReport:
        return run_ingest(empty, files, warehouse, progress=False)

    return warehouse, ingest


@pytest.fixture
def download(tmp_path, corpus) -> Path:
    """A writable copy of the generated download."""
    source = tmp_path / "download"
    shutil.copytree(corpus[0], source)
    return source


def test_a_second_llava_ingest_keeps_the_first(tmp_path):
    warehouse, ingest = llava_only(tmp_path)
    ingest(llava_file(tmp_path / "mine.json", 3))
    report = ingest(llava_file(tmp_path / "second.json", 2, "s"))
    assert {f.name: f.status for f in report.files} == {"second.json": "ingested", "mine.json": "kept"}
    assert count(warehouse, "llava_records", "source = 'mine'") == 3
    assert count(warehouse, "llava_records", "source = 'second'") == 2
    rows = {r["name"]: r for r in table(warehouse, "sources")}
    assert set(rows) == {"mine.json", "second.json"}
    assert rows["mine.json"]["records"] == 3 and rows["mine.json"]["kind"] == "llava"
    assert rows["mine.json"]["path"] == str(tmp_path / "mine.json")
    assert rows["mine.json"]["snapshot"] != rows["second.json"]["snapshot"]  # mine was read by the first run


def test_a_kept_source_stays_even_when_its_file_is_gone(tmp_path):
    warehouse, ingest = llava_only(tmp_path)
    mine = llava_file(tmp_path / "mine.json", 3)
    ingest(mine)
    mine.unlink()
    ingest(llava_file(tmp_path / "second.json", 2, "s"))
    assert count(warehouse, "llava_records", "source = 'mine'") == 3
    result = CliRunner().invoke(cli, ["sources", "--warehouse", str(warehouse.root)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("mine.json"))
    assert "missing" in line.split()


def test_drop_removes_a_source_and_only_that(tmp_path):
    warehouse, ingest = llava_only(tmp_path)
    ingest(llava_file(tmp_path / "mine.json", 3), llava_file(tmp_path / "second.json", 2, "s"))
    report = drop_sources(warehouse, ("mine",))  # by model name; the file name works too
    assert report.dropped == ["mine.json"]
    assert count(warehouse, "llava_records", "source = 'mine'") == 0
    assert count(warehouse, "llava_records", "source = 'second'") == 2
    assert [r["name"] for r in table(warehouse, "sources")] == ["second.json"]
    with pytest.raises(SvitError, match=r"no source named nope .*second.json"):
        drop_sources(warehouse, ("nope",))
    drop_sources(warehouse, ("second.json",))
    assert count(warehouse, "llava_records") == 0 and count(warehouse, "sources") == 0


def test_dropping_image_data_keeps_the_svit_sources_as_they_were(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    turns = count(warehouse, "turns")
    report = drop_sources(warehouse, ("image_data.json",))
    assert {f.name: f.status for f in report.files}["conversation.json"] == "kept"
    assert count(warehouse, "turns") == turns and count(warehouse, "images") == 0


def test_a_changed_image_data_reads_the_svit_sources_again(tmp_path, download):
    """SVIT rows are checked against image_data.json: a new one, given alone, rereads them."""
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    alone = tmp_path / "vg_only"
    (alone / "raw" / "annotations" / "vg").mkdir(parents=True)
    image_data = json.loads((download / "raw" / "annotations" / "vg" / "image_data.json").read_text())
    dropped = image_data.pop(0)["image_id"]
    (alone / "raw" / "annotations" / "vg" / "image_data.json").write_text(json.dumps(image_data))
    report = run_ingest(alone, (), warehouse, progress=False)
    assert {f.name: f.status for f in report.files}["conversation.json"] == "ingested"
    assert count(warehouse, "turns", f"image_id = {dropped}") == 0
    assert count(warehouse, "rejects", f"raw_json like '%{dropped}%'") > 0


def test_rerunning_a_download_keeps_extra_llava_files(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (llava_file(tmp_path / "mine.json", 3),), warehouse, progress=False)
    report = run_ingest(download, (), warehouse, progress=False)
    assert report.up_to_date
    conversation = download / "data" / "conversation.json"
    conversation.write_text(json.dumps(json.loads(conversation.read_text())[:-1]))
    report = run_ingest(download, (), warehouse, progress=False)
    assert {f.name: f.status for f in report.files}["mine.json"] == "kept"
    assert {f.name: f.status for f in report.files}["conversation.json"] == "ingested"
    assert count(warehouse, "llava_records", "source = 'mine'") == 3


def _broken(kind: str, path: Path, tmp_path: Path) -> None:
    path.unlink()
    if kind == "missing":
        return
    if kind == "dangling symlink":
        path.symlink_to(tmp_path / "nowhere.json")
    elif kind == "symlink loop":
        path.symlink_to(path.with_name("loop.json"))
        path.with_name("loop.json").symlink_to(path)
    elif kind == "directory":
        path.mkdir()


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("missing", "source conversation.json was ingested from here and is now missing"),
        ("dangling symlink", "a symlink to"),
        ("symlink loop", "a symlink loop"),
        ("directory", "a folder, not a file"),
    ],
)
def test_a_source_that_vanished_from_its_download_stops_the_rerun(tmp_path, download, kind, says):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    before = count(warehouse, "conversations", "task = 'conversation'")
    _broken(kind, download / "data" / "conversation.json", tmp_path)
    proc = svit_cli("ingest", str(download), "--warehouse", str(warehouse.root))
    line = one_line_error(proc)
    assert "conversation.json" in line and says in line and "svit drop conversation.json" in line
    assert count(warehouse, "conversations", "task = 'conversation'") == before


def test_an_unreadable_source_stops_the_rerun(tmp_path, download):
    """Root reads any file whatever its mode: there the command runs without the capabilities
    that let it (setpriv), as a user would."""
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    os.chmod(download / "data" / "conversation.json", 0)
    argv = [sys.executable, "-m", "svit.cli", "ingest", str(download), "--warehouse", str(warehouse.root)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: mode bits cannot be tested")
        argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]
    line = one_line_error(subprocess.run(argv, capture_output=True, text=True, cwd=REPO))
    assert "conversation.json: unreadable (Permission denied)" in line and "svit drop conversation.json" in line


def test_empty_file_is_no_records_when_new_and_an_error_when_it_held_records(tmp_path):
    warehouse, ingest = llava_only(tmp_path)
    blank = tmp_path / "blank.json"
    blank.write_text("")
    listless = tmp_path / "listless.json"
    listless.write_text("[]")
    report = ingest(blank, listless)
    assert sorted(report.warnings) == [
        f"{blank}: no records (an empty file or [])",
        f"{listless}: no records (an empty file or [])",
    ]
    assert {f.name: f.records_read for f in report.files} == {"blank.json": 0, "listless.json": 0}

    mine = llava_file(tmp_path / "mine.json", 3)
    ingest(mine)
    for content in ("", "[]"):
        mine.write_text(content)
        with pytest.raises(
            InputError, match=r"mine.json: empty, but source mine.json held 3 records; .*svit drop mine.json"
        ):
            ingest(mine)
    assert count(warehouse, "llava_records", "source = 'mine'") == 3


def test_svit_files_without_image_data_need_the_flag_that_says_so(tmp_path, download):
    (download / "raw" / "annotations" / "vg" / "image_data.json").unlink()
    proc = svit_cli("ingest", str(download), "--warehouse", str(tmp_path / "wh"))
    assert "image_data.json" in one_line_error(proc) and "--no-image-id-check" in proc.stderr
    proc = svit_cli("ingest", str(download), "--warehouse", str(tmp_path / "wh"), "--no-image-id-check")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "wh" / "current" / "manifest.json").read_text())
    assert manifest["image_id_check"] is False
    assert {f["name"]: f["image_ids_checked"] for f in manifest["files"] if f["kind"] == "svit_task"} == {
        f"{t}.json": False for t in ("conversation", "complex_reasoning", "detail_description", "referring_qa")
    }
    status = CliRunner().invoke(cli, ["status", "--warehouse", str(tmp_path / "wh")])
    assert "SVIT image ids were not checked" in status.output


def test_a_writer_waits_for_no_one_and_stops_with_one_line(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    # A build (another process) holds the lock: ingest and drop stop, naming it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from svit.core.snapshots import write_lock\n"
            f"with write_lock(Path({str(warehouse.root)!r}), 'build'):\n print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        line = one_line_error(svit_cli("ingest", str(download), "--warehouse", str(warehouse.root)))
        assert f"`svit build` (pid {holder.pid}) is writing {warehouse.root}; wait for it" in line
        line = one_line_error(svit_cli("build", "--warehouse", str(warehouse.root)))
        assert "`svit build`" in line and "is writing" in line
    finally:
        holder.kill()
        holder.wait()
    # And the reverse: an ingest holds it, a build stops (before dbt starts).
    with write_lock(warehouse.root, "ingest"):
        line = one_line_error(svit_cli("build", "--warehouse", str(warehouse.root)))
        assert f"`svit ingest` (pid {os.getpid()}) is writing" in line
    assert count(warehouse, "turns") > 0


def test_a_deleted_table_folder_is_found_and_repaired_by_the_next_ingest(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    turns = count(warehouse, "turns", "task = 'detail_description'")
    objects = count(warehouse, "vg_objects")
    current = (warehouse.root / "current").resolve()
    shutil.rmtree(current / "turns" / "task=detail_description")
    [objects_file] = list((current / "vg_objects").glob("*.parquet"))
    objects_file.write_bytes(objects_file.read_bytes()[:100])  # truncated
    status = CliRunner().invoke(cli, ["status", "--warehouse", str(warehouse.root)])
    assert status.exit_code == 1
    assert "damaged" in status.output and "turns/task=detail_description" in status.output
    report = run_ingest(download, (), warehouse, progress=False)
    status_of = {f.name: f.status for f in report.files}
    assert status_of["detail_description.json"] == status_of["objects.json"] == "ingested"
    assert status_of["conversation.json"] == "unchanged"
    assert count(warehouse, "turns", "task = 'detail_description'") == turns
    assert count(warehouse, "vg_objects") == objects
    assert CliRunner().invoke(cli, ["status", "--warehouse", str(warehouse.root)]).exit_code == 0


def test_a_damaged_kept_source_is_read_again_from_its_file(tmp_path):
    warehouse, ingest = llava_only(tmp_path)
    mine = llava_file(tmp_path / "mine.json", 3)
    ingest(mine)
    shutil.rmtree((warehouse.root / "current").resolve() / "llava_turns" / "source=mine")
    report = ingest(llava_file(tmp_path / "second.json", 2, "s"))
    assert {f.name: f.status for f in report.files}["mine.json"] == "ingested"
    assert count(warehouse, "llava_turns", "source = 'mine'") == 6
    # Damaged again, and now its file changed: it cannot be rebuilt as it was.
    shutil.rmtree((warehouse.root / "current").resolve() / "llava_turns" / "source=mine")
    llava_file(mine, 4)
    with pytest.raises(InputError, match=r"source mine.json must be read again .* the file changed since"):
        ingest(llava_file(tmp_path / "third.json", 1, "t"))


def test_a_reader_keeps_its_snapshot_while_another_is_published(tmp_path):
    from svit.core.session import open_session
    from svit.core.snapshots import reading
    from svit.sql import execute

    warehouse, ingest = llava_only(tmp_path)
    mine = llava_file(tmp_path / "mine.json", 3)
    ingest(mine)
    first = (warehouse.root / "current").resolve()
    with reading(warehouse.root):
        session = open_session(warehouse, models=False)
        try:
            ingest(llava_file(mine, 5))  # publishes a new snapshot
            assert (warehouse.root / "current").resolve() != first and first.is_dir()
            rows = execute(session, "select count(*) from llava_records").fetchall()
            assert rows == [(3,)]  # the snapshot the query started on
        finally:
            session.close()
    ingest(llava_file(mine, 6))
    assert not first.exists()  # no reader holds it any more: the next publish removed it
    assert count(warehouse, "llava_records") == 6


def test_svit_json_and_the_task_files_are_not_kept_side_by_side(tmp_path, download):
    """data/svit.json holds the task files' blocks: switching from one to the other is a drop first."""
    combined: dict[int, list] = {}  # svit.json: one item per image, the four tasks' blocks together
    for task in ("conversation", "complex_reasoning", "detail_description", "referring_qa"):
        for item in json.loads((download / "data" / f"{task}.json").read_text()):
            combined.setdefault(item["image_id"], []).extend(item["conversations"])
    only_all = tmp_path / "only_all"
    (only_all / "data").mkdir(parents=True)
    items = [{"image_id": k, "conversations": v} for k, v in combined.items()]
    (only_all / "data" / "svit.json").write_text(json.dumps(items))
    shutil.copytree(download / "raw", only_all / "raw")
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(only_all, (), warehouse, progress=False)
    boxes = count(warehouse, "boxes")
    assert boxes > 0
    with pytest.raises(
        InputError, match=r"svit.json and conversation.json hold the same SVIT blocks.*`svit drop svit.json`"
    ):
        run_ingest(download, (), warehouse, progress=False)
    assert count(warehouse, "boxes") == boxes
    drop_sources(warehouse, ("svit.json",))
    run_ingest(download, (), warehouse, progress=False)
    assert count(warehouse, "boxes") == boxes


def test_damage_in_a_table_no_source_owns_is_mended_by_the_next_ingest(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    [sources_file] = list(((warehouse.root / "current").resolve() / "sources").glob("*.parquet"))
    sources_file.write_bytes(sources_file.read_bytes()[:50])
    assert CliRunner().invoke(cli, ["status", "--warehouse", str(warehouse.root)]).exit_code == 1
    report = run_ingest(download, (), warehouse, progress=False)
    assert not report.up_to_date
    assert CliRunner().invoke(cli, ["status", "--warehouse", str(warehouse.root)]).exit_code == 0
    assert count(warehouse, "sources") == len(report.files)


def test_a_damaged_manifest_and_a_missing_warehouse_are_one_line(tmp_path, download):
    warehouse = Warehouse(tmp_path / "wh")
    run_ingest(download, (), warehouse, progress=False)
    manifest = (warehouse.root / "current").resolve() / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    for argv in (("status",), ("sources",), ("ingest", str(download))):
        line = one_line_error(svit_cli(*argv, "--warehouse", str(warehouse.root)))
        assert "manifest.json is damaged" in line, argv
    nowhere = tmp_path / "nowhere"
    for argv in (("build",), ("drop", "x.json")):
        line = one_line_error(svit_cli(*argv, "--warehouse", str(nowhere)))
        assert f"no warehouse at {nowhere}" in line, argv
    assert not nowhere.exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    line = one_line_error(svit_cli("ingest", str(download), "--warehouse", str(a_file / "wh")))
    assert f"cannot write the warehouse {a_file / 'wh'}" in line
