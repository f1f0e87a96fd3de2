"""The warehouse tables and their columns (docs/warehouse.md).

Used to write an empty table, with the right columns, when a run had no input for it, so
every table always exists for dbt sources and ad-hoc SQL. Partition columns (task, source,
split) come from the folder names and are listed separately.

`role` in `turns` and `llava_turns` is LLaVA's `human` / `gpt`: ingest stores SVIT's `user`
as `human` (docs/warehouse.md, "Roles"; a snapshot written before that says `user`, which
stg_svit__turns reads as `human`).
"""

from __future__ import annotations

# table -> (columns stored in the files, hive partition column or None)
TABLES: dict[str, tuple[str, str | None]] = {
    "images": (
        "image_id bigint, width integer, height integer, folder varchar, image_path varchar, "
        "coco_id bigint, flickr_id bigint, url varchar",
        None,
    ),
    "conversations": (
        "image_id bigint, block integer, n_turns integer, source_file varchar, record_index bigint, "
        "extra json, item_extra json",
        "task",
    ),
    "turns": ("image_id bigint, block integer, turn integer, role varchar, text varchar, words integer", "task"),
    "boxes": (
        "image_id bigint, block integer, turn integer, mark_index integer, phrase varchar, box_index integer, "
        "x1 double, y1 double, x2 double, y2 double, box_text varchar, mark_offset integer, box_offset integer",
        "task",
    ),
    "llava_records": (
        "source_file varchar, record_index bigint, id varchar, id_json varchar, id_type varchar, "
        "has_image boolean, image varchar, n_turns integer, extra varchar, n_images integer, n_videos integer, "
        "media varchar, layout varchar",
        "source",
    ),
    # One row per image or video of a LLaVA record, in the order the record names them.
    "llava_media": ("source_file varchar, record_index bigint, ordinal integer, kind varchar, path varchar", "source"),
    # words, chars, duplicate_hash, yes_no: measured by ingest for the statistics
    # (macros/llava_turn_measures.sql).
    "llava_turns": (
        "record_index bigint, turn integer, role varchar, text varchar, extra varchar, words integer, "
        "chars integer, duplicate_hash ubigint, yes_no varchar",
        "source",
    ),
    "vg_objects": (
        (
            "image_id bigint, object_id bigint, x integer, y integer, w integer, h integer, "
            "names varchar[], synsets varchar[]"
        ),
        None,
    ),
    "vg_regions": (
        "image_id bigint, region_id bigint, phrase varchar, x integer, y integer, width integer, height integer",
        None,
    ),
    "coco_captions": (
        "coco_id bigint, caption_id bigint, caption varchar, file_name varchar, width integer, height integer",
        "split",
    ),
    "rejects": (
        "source varchar, path varchar, record_index bigint, block integer, reason varchar, raw_json varchar",
        None,
    ),
    # One row per declared source: what the warehouse holds until `svit drop` removes it.
    "sources": (
        "name varchar, kind varchar, path varchar, sha256 varchar, bytes bigint, records bigint, rejected bigint, "
        "ingested_at varchar, snapshot varchar",
        None,
    ),
    "manifest": (
        "run_id varchar, name varchar, path varchar, kind varchar, bytes bigint, sha256 varchar, status varchar, "
        "records_read bigint, records_written bigint, records_rejected bigint, seconds double, tool_versions json, "
        "reader varchar, notes json",
        None,
    ),
}
