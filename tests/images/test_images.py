"""`svit images`: every planted defect of a `svit sample --with-images` corpus is found under
its category and nothing else; the columns say what is in each file; a rerun reads only what
changed; a failed scan leaves the table as it was; what cannot be read is a row, not a crash;
`svit check`, `images: ok`, the export and `svit stats` use the table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline import run_ingest
from svit.check import check
from svit.core.errors import SvitError
from svit.core.warehouse import Warehouse
from svit.export import export
from svit.images import run as images_run
from svit.images import run_images
from svit.mix import build_mix
from svit.workflows import build_with_manifests
from synth.corpus import generate_corpus
from synth.images import write_images
from tests.helpers import REPO, one_line_error, query, svit_cli

# The category each planted defect must be found under (svit/core/image_files.py).
CATEGORY = {
    "missing": "missing",
    "empty": "unreadable",
    "truncated": "unreadable",
    "gif_as_jpg": "mislabelled",
    "png_as_jpg": "mislabelled",
    "size_mismatch": "size_mismatch",
    "cmyk": "cmyk",
}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    generate_corpus(corpus, images=120, seed=5)
    truth = write_images(corpus, seed=5)
    warehouse = Warehouse(tmp_path_factory.mktemp("images_wh"))
    run_ingest(corpus, tuple(sorted((corpus / "llava").glob("*.json"))), warehouse, progress=False)
    build_with_manifests(warehouse, quiet=True)
    result = run_images(warehouse, corpus / "images", progress=False)
    return warehouse, corpus, truth, result


def problems(warehouse) -> dict[str, str]:
    return dict(query(warehouse, "select path, problem from image_files where problem is not null"))


def test_every_planted_defect_is_found_under_its_category_and_nothing_else(scanned):
    warehouse, _, truth, result = scanned
    expected = {path: CATEGORY[kind] for kind, paths in truth["defects"].items() for path in paths}
    assert len(expected) == 11
    assert problems(warehouse) == expected
    assert result.read == result.paths == truth["paths"] - 1  # one path is named by a file not ingested
    counts = {c: list(expected.values()).count(c) for c in set(expected.values())}
    assert result.categories == counts


def test_the_columns_say_what_is_in_each_file(scanned):
    warehouse, _, truth, _ = scanned
    rows = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            "select path, exists, bytes > 0, format, extension_format, mode, frames, decodable, error from image_files",
        )
    }
    d = truth["defects"]
    assert rows[d["missing"][0]] == (False, None, None, "JPEG", None, None, False, None)
    assert rows[d["empty"][0]] == (True, False, None, "JPEG", None, None, False, "empty file (0 bytes)")
    assert rows[d["truncated"][0]][2:] == ("JPEG", "JPEG", "RGB", 1, False, "truncated: the JPEG end marker is missing")
    assert rows[d["gif_as_jpg"][0]] == (True, True, "GIF", "JPEG", "P", 2, True, None)
    assert rows[d["png_as_jpg"][0]][2:6] == ("PNG", "JPEG", "RGB", 1)
    assert rows[d["cmyk"][0]][2:5] == ("JPEG", "JPEG", "CMYK")
    # A clean image: the size image_data.json gives.
    [(path, width, height, w, h)] = query(
        warehouse,
        "select f.path, f.width, f.height, i.width, i.height from image_files f "
        "join stg_svit__images i on i.image_path = f.path where f.problem is null order by f.path limit 1",
    )
    assert (width, height) == (w, h)


def test_a_rerun_reads_only_what_changed(scanned, tmp_path):
    warehouse, corpus, truth, _ = scanned
    again = run_images(warehouse, corpus / "images", progress=False)
    assert again.read == 0 and again.categories == scanned[3].categories
    clean = next(
        p
        for p in sorted((corpus / "images" / "vg").rglob("*.jpg"))
        if str(p.relative_to(corpus / "images")) not in problems(warehouse)
    )
    os.utime(clean, ns=(1, 1))  # only the modification time changes
    assert run_images(warehouse, corpus / "images", progress=False).read == 1
    decoded = run_images(warehouse, corpus / "images", decode=True, progress=False)
    assert decoded.read == decoded.paths  # nothing was fully decoded before
    assert run_images(warehouse, corpus / "images", decode=True, progress=False).read == 0


def test_a_rerun_with_nothing_changed_answers_from_the_last_scan_until_the_database_changes(scanned, monkeypatch):
    warehouse, corpus, _, _ = scanned
    full = run_images(warehouse, corpus / "images", progress=False)

    def no_database(*args, **kwargs):
        raise AssertionError("a rerun with nothing changed opened svit.duckdb")

    monkeypatch.setattr(images_run, "connect", no_database)
    again = run_images(warehouse, corpus / "images", progress=False)
    assert (again.read, again.paths, again.models) == (0, full.paths, full.models)
    assert (again.categories, again.per_model, again.per_prefix) == (full.categories, full.per_model, full.per_prefix)
    assert again.per_model["llava_svit_all"] and again.problems_file == full.problems_file
    # Another model set is another question.
    with pytest.raises(AssertionError, match="opened svit.duckdb"):
        run_images(warehouse, corpus / "images", models=["llava_instruct_150k"], progress=False)
    monkeypatch.undo()
    # Any write to svit.duckdb (here the table dropped by hand) is seen: the files are read again.
    con = images_run.connect(warehouse, read_only=False)
    con.execute("drop table image_files")
    con.close()
    redone = run_images(warehouse, corpus / "images", progress=False)
    assert redone.read == redone.paths == full.paths and redone.categories == full.categories


def test_a_scan_of_one_model_keeps_the_rows_of_the_others(scanned):
    warehouse, corpus, _, _ = scanned
    before = query(warehouse, "select path, problem from image_files order by path")
    one = run_images(warehouse, corpus / "images", models=["llava_instruct_150k"], progress=False)
    assert one.read == 0 and one.paths < len(before)
    assert query(warehouse, "select path, problem from image_files order by path") == before


def test_a_failed_scan_leaves_the_table_as_it_was(scanned, monkeypatch):
    warehouse, corpus, _, _ = scanned
    before = query(warehouse, "select * from image_files order by path")
    calls, original = [], images_run.scan_chunk

    def failing(args):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt  # as a Ctrl-C midway
        return original(args)

    monkeypatch.setattr(images_run, "scan_chunk", failing)
    monkeypatch.setattr(images_run, "CHUNK", 50)
    with pytest.raises(KeyboardInterrupt):
        run_images(warehouse, corpus / "images", with_hash=True, progress=False)
    assert len(calls) > 1
    assert query(warehouse, "select * from image_files order by path") == before


def test_what_cannot_be_read_is_a_row_and_root_errors_are_one_line(scanned, tmp_path):
    warehouse, corpus, _, _ = scanned
    root = tmp_path / "root"
    shutil.copytree(corpus / "images", root)
    paths = sorted(str(p.relative_to(root)) for p in (root / "vg").rglob("*.jpg"))
    loop, folder, denied = (root / p for p in paths[:3])
    loop.unlink()
    loop.symlink_to(loop.name)  # a link to itself
    folder.unlink()
    folder.mkdir()
    denied.chmod(0)
    argv = [sys.executable, "-m", "svit.cli", "--warehouse", str(warehouse.root), "images", str(root), "--no-progress"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: mode bits cannot be tested")
        argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    errors = dict(query(warehouse, f"select path, error from image_files where path in {tuple(paths[:3])}"))
    assert errors == {
        paths[0]: "too many levels of symbolic links",
        paths[1]: "not a file (a directory or a device)",
        paths[2]: "permission denied",
    }
    line = one_line_error(svit_cli("--warehouse", str(warehouse.root), "images", str(tmp_path / "nowhere")))
    assert line.startswith(f"svit: {tmp_path / 'nowhere'}: not a folder; give the folder the image paths are")
    with pytest.raises(SvitError, match="no model named 'nope'"):
        run_images(warehouse, root, models=["nope"], progress=False)
    run_images(warehouse, corpus / "images", progress=False)  # back to the corpus for the other tests


def test_check_and_a_recipe_with_images_ok_use_the_table(scanned, tmp_path):
    warehouse, _, truth, _ = scanned
    result = check(warehouse, "llava_svit_all")
    bad = {path: CATEGORY[kind] for kind, paths in truth["defects"].items() for path in paths}
    expected = dict(
        query(
            warehouse,
            "select 'image_' || f.problem, count(*) from llava_svit_all m join image_files f on f.path = m.image "
            "where f.problem is not null group by all",
        )
    )
    found = {r.rule: r.records for r in result.rules if r.rule.startswith("image_") and r.records}
    assert found == expected and set(expected) <= {f"image_{c}" for c in set(bad.values())}
    recipe = tmp_path / "ok.yml"
    recipe.write_text("name: images_ok\nimages: ok\nsources:\n  - source: llava_svit_all\n")
    mix = build_mix(warehouse, str(recipe))
    [(kept_bad,)] = query(
        warehouse, "select count(*) from images_ok m join image_files f on f.path = m.image where f.problem is not null"
    )
    assert kept_bad == 0
    source = mix.manifest["sources"][0]
    assert source["dropped_by"] == {f"images: {c[6:]}": n for c, n in expected.items()}
    assert source["selected"] == source["available"] - sum(expected.values())


def test_exports_take_the_files_sizes(scanned, tmp_path):
    warehouse, _, truth, _ = scanned
    export(warehouse, "llava_svit_all", tmp_path / "all.jsonl", "internvl", progress=False)
    mismatched = truth["defects"]["size_mismatch"][0]
    [(width, height)] = query(warehouse, f"select width, height from image_files where path = '{mismatched}'")
    sizes = {
        (r["width"], r["height"])
        for r in map(json.loads, (tmp_path / "all.jsonl").read_text().splitlines())
        if r.get("image") == mismatched
    }
    assert sizes == {(width, height)}
    [(meta_width,)] = query(warehouse, f"select width from stg_svit__images where image_path = '{mismatched}'")
    assert meta_width == 2 * width


def test_sample_with_images_from_the_command_line(tmp_path):
    proc = svit_cli("sample", "--out", str(tmp_path / "c"), "--images", "20", "--with-images")
    assert proc.returncode == 0, proc.stderr
    assert "planted defects (images/IMAGES_TRUTH.json)" in proc.stdout
    truth = json.loads((tmp_path / "c" / "images" / "IMAGES_TRUTH.json").read_text())
    assert sum(1 for p in (tmp_path / "c" / "images").rglob("*.jpg") if p.is_file()) == truth["files_written"]
    assert Path(tmp_path / "c" / "images" / truth["defects"]["empty"][0]).stat().st_size == 0


def test_stats_show_the_image_sizes(scanned, tmp_path):
    from svit.stats import run_stats

    warehouse, _, _, _ = scanned
    report = run_stats(warehouse, tmp_path / "report", models=["llava_svit_all"])
    rows = {r["measure"]: r for r in report.tables["llava_image_sizes"].dicts() if r["scope"] == "llava_svit_all"}
    sizes = query(
        warehouse,
        "select f.width, f.height from image_files f where f.decodable "
        "and f.path in (select image from llava_svit_all)",
    )
    assert rows["image width"]["n"] == len(sizes) and rows["image width"]["max"] == max(w for w, _ in sizes)
    assert rows["image height"]["min"] == min(h for _, h in sizes)
    assert rows["aspect ratio (width / height)"]["max"] == pytest.approx(max(round(w / h, 3) for w, h in sizes))
    assert "(models_image_sizes.png)" in (tmp_path / "report" / "report.md").read_text()
