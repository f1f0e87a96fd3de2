"""A JSON registry beside an export (LLaMA-Factory's dataset_info.json, InternVL's meta file):
the export's entry is added, or replaced, keeping every other entry; written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from svit.core.errors import SvitError


def add_entry(path: Path, name: str, entry: dict) -> Path:
    registry = {}
    if path.exists():
        try:
            registry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SvitError(f"{path}: not a JSON object I can add the entry to ({exc}); move it away") from exc
        if not isinstance(registry, dict):
            raise SvitError(f"{path}: not a JSON object I can add the entry to; move it away")
    registry[name] = entry
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(registry, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
