"""dbt-duckdb plugin: Python functions the SQL models call where SQL cannot be exact."""

from __future__ import annotations

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin

from svit.core.baai_procedure import expand_box_text_to_square


def _expand_boxes_baai(texts: pa.Array, widths: pa.Array, heights: pa.Array) -> pa.Array:
    """BAAI's converter on each (text, width, height): used for the rare turns where its
    sequential str.replace rewrites a box twice."""
    return pa.array(
        [
            None if text is None else expand_box_text_to_square(text, width, height)
            for text, width, height in zip(texts.to_pylist(), widths.to_pylist(), heights.to_pylist(), strict=True)
        ],
        pa.string(),
    )


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        conn.create_function(
            "svit_expand_boxes_baai",
            _expand_boxes_baai,
            ["VARCHAR", "INTEGER", "INTEGER"],
            "VARCHAR",
            type="arrow",
            side_effects=False,
        )
