"""A JSON registry beside an export (LLaMA-Factory's dataset_info.json, InternVL's meta file):
the export's entry is added, or replaced, keeping every other entry; written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from svit.core.errors import SvitError
from svit.export.output import atomic_file


def read(path: Path) -> dict:
    """The registry at `path` ({} when there is none); SvitError when it is not a JSON object."""
    if not path.exists():
        return {}
    try:
        registry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SvitError(
            f"{path}: cannot add the export's entry, it is not a JSON object ({exc}); move it away"
        ) from exc
    if not isinstance(registry, dict):
        raise SvitError(f"{path}: cannot add the export's entry, it is not a JSON object; move it away")
    return registry


def add_entry(path: Path, name: str, entry: dict) -> Path:
    registry = read(path)
    registry[name] = entry
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(registry, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
