"""`svit sources` and `svit status`: what the warehouse holds, where it came from, whether it is whole."""

from __future__ import annotations

from pathlib import Path

from svit.core.files import sha256_of
from svit.core.snapshots import models_record
from svit.core.warehouse import Warehouse


def file_state(path: Path, size: int, sha256: str) -> str:
    """Whether a source's file still holds the bytes it was read from: same, changed or missing.

    `size` < 0 skips the quick size comparison (a zip member's recorded size is not the zip's)."""
    try:
        if not path.is_file():
            return "missing"
        if size >= 0 and path.stat().st_size != size:
            return "changed"
        digest = sha256_of(path)
    except OSError:
        return "missing"
    return "same" if digest == sha256 else "changed"


def source_rows(warehouse: Warehouse, check: bool = True) -> list[dict]:
    """One row per source: name, kind, records, path as given, and (with `check`) its file's state."""
    rows = []
    for s in warehouse.sources():
        state = "-"
        if check:
            # A zip member's sha256 is the zip's; `bytes` is the member's, so only the hash can tell.
            state = file_state(
                Path(s.get("abs_path") or s["path"]), s["bytes"] if not s.get("member") else -1, s["sha256"]
            )
        rows.append(
            {"name": s["name"], "kind": s["kind"], "records": s["records_read"], "path": s["path"], "file": state}
        )
    return rows


def status_lines(warehouse: Warehouse) -> tuple[list[str], bool]:
    """The lines `svit status` prints, and whether all is well (tables whole, models fresh)."""
    root = warehouse.root
    snap, manifest = warehouse.snapshot(), warehouse.manifest()
    if snap is None or manifest is None:
        return [f"{root}: no snapshot yet; run `svit ingest SOURCE_DIR` (or `svit demo`)"], True
    lines = [f"warehouse {root}", f"snapshot  {snap.name} (finished {manifest.get('finished_at', '?')})"]
    if not manifest.get("image_id_check", True):
        lines.append("          SVIT image ids were not checked (ingested with --no-image-id-check)")
    healthy = True
    damaged = warehouse.damaged_files()
    if damaged:
        healthy = False
        shown = ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        lines.append(
            f"damaged   {len(damaged)} table files do not match the manifest ({shown}): "
            "run `svit ingest` with the same sources to rebuild them"
        )
    else:
        lines.append(f"tables    {len(manifest.get('inventory', {}))} files, all as the manifest records them")
    stale = warehouse.stale_models()
    if not warehouse.duckdb_path.is_file():
        lines.append("models    not built: run `svit build`")
    elif stale:
        healthy = False
        lines.append(f"models    stale: {stale}")
    else:
        record = models_record(root) or {}
        lines.append(f"models    fresh: built from {record.get('snapshot')} at {record.get('built_at', '?')}")
    rows = source_rows(warehouse)
    lines.append(f"sources   {len(rows)}")
    for r in rows:
        lines.append(f"  {r['name']:<32} {r['kind']:<14} {r['records']:>10,} records  file {r['file']:<8} {r['path']}")
    return lines, healthy
