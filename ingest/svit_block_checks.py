"""The checks that need a whole SVIT block, run once every file is scanned.

They read and update `svit_rows`, the small rows the scans left (one per block or unusable
item, plus the turns with a problem): a bad turn rejects its block, an image item repeating
an earlier one is rejected, and so is a referring block whose marks or boxes are unusable.
A block takes one problem, the reason its reject gives.
"""

from __future__ import annotations

from pathlib import Path

from svit.core.sql import sql_str


def reject_whole_blocks(con) -> None:
    """A block with a bad turn is rejected whole: its block row takes the first turn's problem."""
    con.execute(
        """
        update svit_rows b set problem = t.problem
        from (select file_name, record_index, block, arg_min(problem, turn) as problem
              from svit_rows where turn is not null and problem is not null group by all) t
        where b.turn is null and b.problem is null
          and b.file_name = t.file_name and b.record_index = t.record_index and b.block = t.block
        """
    )


def reject_repeated_images(con) -> None:
    """A second image item with the same image_id in one file is rejected (each of its blocks)."""
    con.execute(
        """
        update svit_rows b set problem = 'image_id ' || b.image_id || ' repeats record ' || f.first_record
        from (select file_name, image_id, min(record_index) as first_record from svit_rows
              where turn is null and image_id is not null group by all
              having min(record_index) < max(record_index)) f  -- only repeated images: the join stays small
        where b.turn is null and b.problem is null and b.file_name = f.file_name
          and b.image_id = f.image_id and b.record_index > f.first_record
        """
    )


def check_boxes(con, boxes: Path, marks: Path) -> None:
    """Reject referring blocks whose marks or boxes are unusable.

    `boxes` and `marks` are glob patterns: the referring boxes the scans wrote, and the
    problems of their marks, which were checked while the boxes were taken (ingest/boxes.py).
    A block takes the first problem of each kind, then the smaller one.
    """
    problems = []
    if _any_file(marks):
        problems.append(
            f"select image_id, block, arg_min(problem, turn) as problem "
            f"from read_parquet({sql_str(marks)}) group by all"
        )
    if _any_file(boxes):
        outside = "least(x1, y1, x2, y2) < 0 or greatest(x1, y1, x2, y2) > 1"
        problems.append(
            f"""
            select image_id, block, arg_min('turn ' || turn || ': ' || case
                    when x1 is null or y1 is null or x2 is null or y2 is null then 'malformed box ' || box_text
                    when {outside} then 'box ' || box_text || ' outside 0..1'
                    when x2 < x1 then 'box ' || box_text || ' has x2 < x1'
                    else 'box ' || box_text || ' has y2 < y1'
                end, (turn, mark_index, box_index)) as problem
            from read_parquet({sql_str(boxes)})
            where x1 is null or y1 is null or x2 is null or y2 is null
               or {outside} or x2 < x1 or y2 < y1
            group by all
            """
        )
    if not problems:
        return
    con.execute(f"create or replace temp table svit_box_problems as {' union all '.join(problems)}")
    con.execute(
        """
        update svit_rows b set problem = p.problem
        from (select image_id, block, min(problem) as problem from svit_box_problems group by all) p
        where b.task = 'referring_qa' and b.turn is null and b.problem is null
          and b.image_id = p.image_id and b.block = p.block
        """
    )


def _any_file(pattern: Path) -> bool:
    return any(pattern.parent.glob(pattern.name))
