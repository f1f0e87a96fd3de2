"""Image sizes the warehouse knows, by the path records give as `image`: the files' own, as
`svit images` read them (the table image_files, when scanned), else the metadata's: Visual
Genome's (`images`, from image_data.json) and COCO's (`coco_captions`, from the captions' image
list, at `coco/<split>/<file>` as LLaVA names them). Export writes them; `svit tokens` needs
them for the image-token rules that depend on the size. (The groundings keep the metadata's
sizes: BAAI normalised the boxes by them.)"""

from __future__ import annotations

from pathlib import Path

from svit.core.sql import sql_str


def image_sizes_sql(snapshot: Path, image_files: str | None = None) -> str | None:
    """A query of (image, width, height), one row per known image path; None when no table has
    sizes. `image_files`: the relation `svit images` wrote, whose decodable files' sizes win."""
    metadata = _metadata_sizes_sql(snapshot)
    if image_files is None:
        return metadata
    files = f"select path as image, width, height from {image_files} where decodable"
    if metadata is None:
        return files
    return (
        "select coalesce(f.image, m.image) as image, coalesce(f.width, m.width) as width, "
        f"coalesce(f.height, m.height) as height from ({metadata}) m full join ({files}) f on f.image = m.image"
    )


def _metadata_sizes_sql(snapshot: Path) -> str | None:
    selects = []
    if any((snapshot / "images").glob("*.parquet")):
        selects.append(
            f"select image_path as path, width, height from read_parquet({sql_str(snapshot / 'images' / '*.parquet')})"
        )
    if any((snapshot / "coco_captions").rglob("*.parquet")):
        selects.append(
            "select 'coco/' || split || '/' || file_name as path, width, height "
            f"from read_parquet({sql_str(snapshot / 'coco_captions' / '**' / '*.parquet')}, hive_partitioning = true)"
        )
    if not selects:
        return None
    return (
        "select path as image, any_value(width)::integer as width, any_value(height)::integer as height "
        f"from ({' union all '.join(selects)}) where width is not null and height is not null group by path"
    )
