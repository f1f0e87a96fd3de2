"""`svit export`: a model in the file format of a trainer.

`run` reads the records and writes the file; `records` says where a model's records come
from; `formats/` holds one adapter per format (Polars expressions shaping the records);
`output` is the atomic file and the writing of Polars' buffers.
"""

from svit.export.formats import FORMATS, Options
from svit.export.run import ExportResult, export

__all__ = ["FORMATS", "ExportResult", "Options", "export"]
