"""Streaming Parquet output: one DuckDB scan, its Arrow batches routed to several files.

DuckDB's COPY writes one stream; ingest needs two from each JSON scan (the turns, and one
small row per block or record), and parsing the JSON twice costs more than routing the
batches here. Writers open lazily, so a file exists only when it has rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# zstd level 1: faster writes than the default level, for somewhat larger files (see bench/README.md).
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
ROW_GROUP_ROWS = 262_144


class ParquetSink:
    """Parquet writers keyed by path, opened on first rows, closed together."""

    def __init__(self) -> None:
        self._writers: dict[Path, pq.ParquetWriter] = {}
        self.rows: dict[Path, int] = {}

    def write(self, path: Path, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        writer = self._writers.get(path)
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)
            self._writers[path] = writer
            self.rows[path] = 0
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows[path] += table.num_rows

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def split_by(batch: pa.RecordBatch, column: str) -> Iterator[tuple[object, pa.Table]]:
    """The rows of `batch` grouped by the values of one column (few distinct values expected)."""
    table = pa.Table.from_batches([batch])
    values = table.column(column)
    distinct = pc.unique(values).to_pylist()
    if len(distinct) == 1:
        yield distinct[0], table  # the usual case (a file of one task): no copy
        return
    for value in distinct:
        mask = pc.is_null(values) if value is None else pc.equal(values, pa.scalar(value, values.type))
        yield value, table.filter(mask)


def route_batches(
    reader: pa.RecordBatchReader,
    sink: ParquetSink,
    route: Callable[[pa.RecordBatch], Iterator[tuple[Path, pa.Table]]],
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> None:
    """Send every batch's parts where `route` says."""
    for batch in reader:
        for path, part in route(batch):
            sink.write(path, part)
        if on_batch is not None:
            on_batch(batch)
