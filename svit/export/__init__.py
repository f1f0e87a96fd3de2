"""`svit export`: a model back to LLaVA JSON, JSONL, chat messages or Parquet shards.

`writer` runs an export (the query, the rendering, the atomic write); `layout` is what
json.dumps writes between tokens; `json_kernel` is the compiled rendering.
"""

from svit.export.layout import Layout
from svit.export.writer import FORMATS, ExportResult, export

__all__ = ["FORMATS", "ExportResult", "Layout", "export"]
