"""Plain functions and constants the tests share (the fixtures are in the conftest.py files)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb

from ingest.pipeline import run_ingest
from svit.cli import BUNDLED_SAMPLE
from svit.core.dbt import load_dbt_plugins
from svit.core.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- running svit


def svit_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`svit ARGS` run in a process of its own, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "svit.cli", *args], capture_output=True, text=True, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error a failed command printed: exactly one line, `svit: ...`, and no traceback."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("svit: "), proc.stderr
    return lines[0]


# --------------------------------------------------------------------------- the bundled sample

TRUTH = json.loads((BUNDLED_SAMPLE / "GROUND_TRUTH.json").read_text())  # what the generator made
OFFICIAL = BUNDLED_SAMPLE / "format" / "llava-v1.5"  # its SVIT_core_150K.json and SVIT_mix_665K.json
LLAVA_MIX665K = BUNDLED_SAMPLE / "llava" / "llava_v1_5_mix665k.json"


def sample_task_items(task: str) -> list[dict]:
    """data/<task>.json of the bundled sample, read from its zip."""
    with zipfile.ZipFile(BUNDLED_SAMPLE / "data" / f"{task}.zip") as zf:
        return json.loads(zf.read(f"{task}.json"))


def sample_image_sizes() -> dict[int, dict]:
    """The bundled sample's image_data.json, by image id."""
    rows = json.loads((BUNDLED_SAMPLE / "raw" / "annotations" / "vg" / "image_data.json").read_text())
    return {r["image_id"]: r for r in rows}


def llava_records_of_file(path: Path) -> list[dict]:
    """A LLaVA file's records, as json.load reads them."""
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- reading a warehouse


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    """Rows of `sql` over the built models (svit.duckdb, read-only), with the functions the
    model views call (dbt's plugins)."""
    con = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    try:
        load_dbt_plugins(con)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def llava_records_of_model(warehouse: Warehouse, model: str) -> list[dict]:
    """A built model's records as json.load reads a LLaVA file: id with its JSON type, image only
    when present, extra keys, conversations."""
    out = []
    for id_json, has_image, image, extra, conversations in query(
        warehouse, f"select id_json, has_image, image, extra, conversations from {model} order by record_order"
    ):
        record = {"id": json.loads(id_json)}
        if has_image:
            record["image"] = image
        record.update(json.loads(extra) if extra else {})
        record["conversations"] = [{"from": t["from"], "value": t["value"]} for t in conversations]
        out.append(record)
    return out


def _parquet(warehouse: Warehouse, name: str) -> str:
    """The SQL that reads a warehouse table's Parquet files (hive partition columns included)."""
    return f"read_parquet('{warehouse.root / name}/**/*.parquet', hive_partitioning = true, union_by_name = true)"


def table(warehouse: Warehouse, name: str, where: str = "true", order: str = "all") -> list[dict]:
    """Rows of a warehouse table as dicts (hive partition columns included)."""
    con = duckdb.connect()
    rel = con.sql(f"select * from {_parquet(warehouse, name)} where {where} order by {order}")
    cols = rel.columns
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def count(warehouse: Warehouse, name: str, where: str = "true") -> int:
    """Rows of a warehouse table where `where` holds."""
    con = duckdb.connect()
    return con.sql(f"select count(*) from {_parquet(warehouse, name)} where {where}").fetchall()[0][0]


# --------------------------------------------------------------------------- files on disk


def file_hashes(root: Path) -> dict[str, str]:
    """Every file under `root`, by its path relative to `root`: its bytes as a SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def warehouse_contents(root: Path) -> dict[str, tuple]:
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


# --------------------------------------------------------------------------- small downloads to ingest


def write_corpus(root: Path, tasks: dict[str, list], images: list[dict] | None = None) -> Path:
    """A small download folder: data/<task>.json from `tasks`, and image_data.json."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    for task, items in tasks.items():
        (root / "data" / f"{task}.json").write_text(json.dumps(items))
    if images is not None:
        vg = root / "raw" / "annotations" / "vg"
        vg.mkdir(parents=True, exist_ok=True)
        (vg / "image_data.json").write_text(json.dumps(images))
    return root


def vg_image(image_id: int, width: int = 800, height: int = 600, folder: str = "VG_100K") -> dict:
    """An image_data.json row."""
    return {
        "image_id": image_id,
        "url": f"https://cs.stanford.edu/people/rak248/{folder}/{image_id}.jpg",
        "width": width,
        "height": height,
        "coco_id": None,
        "flickr_id": None,
    }


def qa(question: str, answer: str) -> list[dict]:
    """One question and its answer, as SVIT's turns."""
    return [{"from": "user", "value": question}, {"from": "gpt", "value": answer}]


# --------------------------------------------------------------------------- LLaVA files of awkward values (export)

# Strings json.dumps escapes in every way it can: quotes, backslashes, each control
# character, DEL, non-ASCII in and beyond the BMP, line separators, text that looks like
# an escape sequence.
TRICKY_TEXTS = [
    'say "hi" \\ and \\\\ then \\" and \\u001F and \\x41 and \\U0001F600',
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "résumé 中文 日本語 😊👍🏽 \u2028\u2029 \ufeff \u00ad",
    "line\nbreak\r\n\ttab\b\f end",
    "",
    " leading and trailing spaces ",
    "/slash/ <b>html</b> &amp; 'single'",
    # the punctuation the export rewrites between keys, as text
    '[{"from":"human","value":"x"},{"from":"gpt","value":null}] ,"value": },{"from": }]',
    "ends in the list's closing }]",
]


def tricky_records() -> list[dict]:
    """LLaVA records with ids of both types, extra keys (nested, numbers) and turn extras."""
    records = []
    for i, text in enumerate(TRICKY_TEXTS):
        rec: dict = {"id": i * 1000 + 7 if i % 2 else f"tricky_{i}_{text[:3]}"}
        if i % 3 != 1:
            rec["image"] = f"coco/train2017/{i:012d}.jpg"
        if i % 3 == 1:
            rec["model"] = ""
        if i == 2:
            rec["meta"] = {
                "score": 0.1,
                "big": 12345678901234,
                "tags": ["a", "é"],
                "empty": [],
                "none": None,
                "nested": {"x": [1, 2.5, {"y": "z"}], "e": {}},
                "ok": True,
            }
        turns = [
            {"from": "human", "value": ("<image>\n" if "image" in rec else "") + text},
            {"from": "gpt", "value": text[::-1]},
        ]
        if i == 3:
            turns[1]["weight"] = 0.0
            turns[1]["note"] = {"k": ["v", 1]}
        rec["conversations"] = turns
        records.append(rec)
    return records


def warehouse_of(tmp_path_factory, file_name: str, records: list[dict]) -> tuple[Warehouse, Path]:
    """A warehouse holding only one LLaVA file of `records`, written with indent=2."""
    source = tmp_path_factory.mktemp("llava_source")
    path = source / file_name
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    warehouse = Warehouse(tmp_path_factory.mktemp("llava_warehouse"))
    run_ingest(source, (path,), warehouse, progress=False)
    return warehouse, path
