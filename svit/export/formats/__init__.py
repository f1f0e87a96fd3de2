"""The export formats, one adapter each (docs/export.md has a record of each)."""

from svit.export.formats.base import Format, Options
from svit.export.formats.internvl import InternVL
from svit.export.formats.llava import Jsonl, Llava
from svit.export.formats.messages import Messages
from svit.export.formats.parquet import Parquet
from svit.export.formats.qwen import Qwen
from svit.export.formats.sharegpt import ShareGPT

FORMATS: dict[str, Format] = {
    f.name: f for f in (Llava(), Jsonl(), Messages(), ShareGPT(), InternVL(), Qwen(), Parquet())
}

__all__ = ["FORMATS", "Format", "Options"]
