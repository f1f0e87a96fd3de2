"""ingest/boxes.py against a plain Python reading of the same rules, on the awkward cases."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.boxes import SCHEMA, BoxesAside, referring_boxes

RUN = re.compile(r" ?(\[[^\]\[]*\](?:, \[[^\]\[]*\])*)")
BOX = re.compile(r"\[[^\]\[]*\]")
BAAI_BOX = re.compile(r"\[([0-9.]+), ([0-9.]+), ([0-9.]+), ([0-9.]+)\]")

TEXTS = [
    "Where is the <st>clock<ed> [0.526, 0.152, 0.625, 0.717]?",
    "<st>a<ed>[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6] and <st>b<ed> [0.0, 0.0, 1.0, 1.0] end",
    "Où est l'<st>horloge é<ed> [0.1, 0.2, 0.3, 0.4] — et <st>中文<ed> [0.5, 0.5, 0.6, 0.6], [0.0, 0.0, 1.0, 1.0]",
    "<st><ed> [0.1, 0.1, 0.2, 0.2]",  # empty phrase
    "<st>no box<ed> here, then <st>box<ed>  [0.1, 0.1, 0.2, 0.2]",  # no box; two spaces: no box either
    "<st>odd<ed> [.5, 1., 0.25, 1]",  # float() reads these
    "<st>odd<ed> [1.2.3, 0.1, 0.2, 0.3]",  # float() does not
    "<st>short<ed> [0.1, 0.1, 0.6], [0.1, 0.2, 0.3, 0.4]",
    "<st>words<ed> [left, top, 0.1, 0.2]",
    "<st>lines<ed> [0.1,\n0.2, 0.3, 0.4]",
    "<st>a<<ed> [0.1, 0.1, 0.2, 0.2]",  # `<` right before `<ed>`
    "<st>a<e<ed> [0.1, 0.1, 0.2, 0.2]",
    "no marks at all [0.1, 0.1, 0.2, 0.2]",
    "<st>unclosed [0.1, 0.1, 0.2, 0.2]",
    "stray<ed> [0.1, 0.1, 0.2, 0.2]",
    "<ed><st>x",
    "<st>a<ed> [0.1, 0.1, 0.2, 0.2] b<ed>",
    "<st>a<st>b<ed> [0.1, 0.1, 0.2, 0.2]<ed>",
]


def python_boxes(image_id, block, turn, text):
    """The rows the boxes table should hold for one turn, found with str methods and re."""
    rows = []
    pieces = text.split("<st>")
    start = len(pieces[0])
    for mark_index, piece in enumerate(pieces[1:]):
        mark_offset, start = start, start + 4 + len(piece)
        if "<ed>" not in piece:
            continue
        phrase, after = piece.split("<ed>", 1)
        run = RUN.match(after)
        if not run:
            continue
        run_offset = mark_offset + 8 + len(phrase) + run.start(1)
        for box_index, box in enumerate(BOX.finditer(run.group(1))):
            numbers = BAAI_BOX.fullmatch(box.group())
            values = [_float(v) for v in numbers.groups()] if numbers else [None] * 4
            rows.append(
                (
                    image_id,
                    block,
                    turn,
                    mark_index,
                    phrase,
                    box_index,
                    *values,
                    box.group(),
                    mark_offset,
                    run_offset + box.start(),
                )
            )
    return rows


def _float(text):
    try:
        return float(text)
    except ValueError:
        return None


def python_mark_problem(turn, text):
    tokens = re.findall("<st>|<ed>", text)
    if tokens.count("<st>") != tokens.count("<ed>"):
        return f"turn {turn}: <st> and <ed> do not pair up"
    if tokens != ["<st>", "<ed>"] * (len(tokens) // 2):
        return f"turn {turn}: unclosed <st>"
    return None


def turns_table(texts):
    return pa.table(
        {
            "image_id": pa.array([100 + i for i in range(len(texts))], pa.int64()),
            "block": pa.array([i % 3 for i in range(len(texts))], pa.int32()),
            "turn": pa.array([i for i in range(len(texts))], pa.int32()),
            "role": pa.array(["user"] * len(texts), pa.string()),
            "text": pa.array(texts, pa.string()),
        }
    )


def rows_of(table):
    return [tuple(r.values()) for r in table.to_pylist()]


def test_boxes_equal_a_python_reading_of_each_turn():
    boxes, _ = referring_boxes(turns_table(TEXTS))
    expected = [row for i, text in enumerate(TEXTS) for row in python_boxes(100 + i, i % 3, i, text)]
    assert boxes.schema == SCHEMA
    assert rows_of(boxes) == expected
    for row in rows_of(boxes):  # the offsets point at the mark and the box
        text, phrase, box_text, mark_offset, box_offset = TEXTS[row[2]], row[4], row[10], row[11], row[12]
        assert text[mark_offset:].startswith(f"<st>{phrase}<ed>")
        assert text[box_offset : box_offset + len(box_text)] == box_text


def test_awkward_boxes_in_detail():
    boxes, _ = referring_boxes(turns_table(TEXTS))
    by_text = {}
    for row in boxes.to_pylist():
        by_text.setdefault(TEXTS[row["turn"]], []).append(row)
    odd = by_text["<st>odd<ed> [.5, 1., 0.25, 1]"][0]
    assert (odd["x1"], odd["y1"], odd["x2"], odd["y2"]) == (0.5, 1.0, 0.25, 1.0)
    bad = by_text["<st>odd<ed> [1.2.3, 0.1, 0.2, 0.3]"][0]
    assert (bad["x1"], bad["y1"], bad["box_text"]) == (None, 0.1, "[1.2.3, 0.1, 0.2, 0.3]")
    short = by_text["<st>short<ed> [0.1, 0.1, 0.6], [0.1, 0.2, 0.3, 0.4]"]
    assert [(b["box_index"], b["box_text"], b["x1"]) for b in short] == [
        (0, "[0.1, 0.1, 0.6]", None),
        (1, "[0.1, 0.2, 0.3, 0.4]", 0.1),
    ]
    assert [b["phrase"] for b in by_text["<st>a<<ed> [0.1, 0.1, 0.2, 0.2]"]] == ["a<"]
    assert [b["phrase"] for b in by_text["<st>a<e<ed> [0.1, 0.1, 0.2, 0.2]"]] == ["a<e"]
    assert "<st>no box<ed> here, then <st>box<ed>  [0.1, 0.1, 0.2, 0.2]" not in by_text
    assert [(b["phrase"], b["mark_index"]) for b in by_text["<st>a<st>b<ed> [0.1, 0.1, 0.2, 0.2]<ed>"]] == [("b", 1)]


def test_mark_problems_name_each_bad_turn_once():
    _, problems = referring_boxes(turns_table(TEXTS))
    expected = [
        (100 + i, i % 3, i, python_mark_problem(i, text))
        for i, text in enumerate(TEXTS)
        if python_mark_problem(i, text)
    ]
    assert rows_of(problems) == expected
    assert [p for *_, p in expected] == [
        "turn 13: <st> and <ed> do not pair up",
        "turn 14: <st> and <ed> do not pair up",
        "turn 15: unclosed <st>",
        "turn 16: <st> and <ed> do not pair up",
        "turn 17: unclosed <st>",
    ]


# What random texts are made of: whole marks and boxes, the pieces they are made of, what
# may break them, and multi-byte characters (offsets count characters, not bytes).
WHOLE = ["<st>a b<ed> [0.1, 0.2, 0.3, 0.4]", "<st>中<ed>[1, 1., .5, 0]", ", [0.5, 0.5, 1, 1]", "<st>é<ed> "]
PIECES = ["<st>", "<ed>", "<", "st>", "[", "]", ", ", ",", " ", "0.5", "1", ".", "..", "x", "é", "中", "\n", "<s"]


def random_texts(seed, count):
    rng = random.Random(seed)
    return [
        "".join(rng.choice(WHOLE) if rng.random() < 0.3 else rng.choice(PIECES) for _ in range(rng.randrange(0, 30)))
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(4))
def test_random_texts_give_what_the_python_reading_gives(seed):
    texts = random_texts(seed, 3000)
    boxes, problems = referring_boxes(turns_table(texts))
    expected = [row for i, text in enumerate(texts) for row in python_boxes(100 + i, i % 3, i, text)]
    assert rows_of(boxes) == expected
    assert len(expected) > 500  # the texts hold boxes, not only noise
    assert rows_of(problems) == [
        (100 + i, i % 3, i, python_mark_problem(i, text))
        for i, text in enumerate(texts)
        if python_mark_problem(i, text)
    ]


def test_numbers_are_what_float_reads():
    """Numbers of up to 15 digits are read in the compiled pass, longer ones by float()
    itself: all exactly as float() reads them."""
    rng = random.Random(7)
    digits = ["".join(rng.choices("0123456789", k=rng.randrange(1, 20))) for _ in range(300)]
    numbers = [d[:cut] + "." + d[cut:] for d in digits for cut in [rng.randrange(len(d) + 1)]] + digits
    numbers += ["0", "00.5", "1.", ".5", "0.30000000000000004", "123456789012345", "1234567890123456", ".", "1..2"]
    texts = [f"<st>n<ed> [0.5, {n}, 0.5, 1]" for n in numbers]
    boxes, _ = referring_boxes(turns_table(texts))
    assert boxes.column("y1").to_pylist() == [_float(n) for n in numbers]
    assert boxes.column("y1").null_count == 2  # "." and "1..2"
    assert boxes.column("x1").to_pylist() == [0.5] * len(numbers)


def test_null_texts_hold_no_boxes():
    table = turns_table(["<st>a<ed> [0.1, 0.1, 0.2, 0.2]", "x", "<st>b<ed> [1, 1, 1, 1]"])
    table = table.set_column(4, "text", pa.array(["<st>a<ed> [0.1, 0.1, 0.2, 0.2]", None, "<st>b<ed> [1, 1, 1, 1]"]))
    boxes, problems = referring_boxes(table)
    assert [(b["turn"], b["phrase"], b["x1"]) for b in boxes.to_pylist()] == [(0, "a", 0.1), (2, "b", 1.0)]
    assert problems.num_rows == 0


@pytest.mark.parametrize("kind", [pa.large_string(), pa.string_view()])
def test_large_string_and_view_turns_give_the_same_boxes(kind):
    table = turns_table(TEXTS)
    other = table.set_column(4, "text", table.column("text").cast(kind))
    boxes, problems = referring_boxes(other)
    expected_boxes, expected_problems = referring_boxes(table)
    assert rows_of(boxes) == rows_of(expected_boxes)
    assert rows_of(problems) == rows_of(expected_problems)


def test_a_slice_of_turns_gives_its_own_boxes():
    """A batch that starts inside its buffers (offsets from its own first text on)."""
    padded = turns_table(["<st>x<ed> [0.9, 0.9, 0.9, 0.9]", *TEXTS])
    boxes, problems = referring_boxes(padded.slice(1).set_column(0, "image_id", turns_table(TEXTS).column("image_id")))
    expected = [row for i, text in enumerate(TEXTS) for row in python_boxes(100 + i, (i + 1) % 3, i + 1, text)]
    assert rows_of(boxes) == expected
    assert len(rows_of(problems)) == 5


def test_turns_without_marks_give_empty_tables():
    boxes, problems = referring_boxes(turns_table(["no marks", "none here [0.1, 0.1, 0.2, 0.2]"]))
    assert (boxes.num_rows, problems.num_rows, boxes.schema) == (0, 0, SCHEMA)
    boxes, problems = referring_boxes(turns_table([]))
    assert (boxes.num_rows, problems.num_rows) == (0, 0)


def test_boxes_aside_writes_parts_in_the_order_given(tmp_path):
    texts = TEXTS * 5
    whole_boxes, whole_problems = referring_boxes(turns_table(texts))
    table = turns_table(texts)
    with BoxesAside(tmp_path / "boxes" / "x.parquet", tmp_path / "marks" / "x.parquet") as aside:
        for start in range(0, len(texts), 3):  # many small parts, taken two at a time
            aside.add(table.slice(start, 3))
    assert pq.read_table(tmp_path / "boxes" / "x.parquet").equals(whole_boxes)
    assert pq.read_table(tmp_path / "marks" / "x.parquet").equals(whole_problems)


def test_boxes_aside_without_a_marks_path_writes_boxes_only(tmp_path):
    with BoxesAside(tmp_path / "boxes.parquet", None) as aside:
        aside.add(turns_table(TEXTS))
    assert pq.read_table(tmp_path / "boxes.parquet").num_rows == referring_boxes(turns_table(TEXTS))[0].num_rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.parquet"]


def test_boxes_aside_raises_what_its_threads_raised(tmp_path):
    with pytest.raises(KeyError):
        with BoxesAside(tmp_path / "boxes.parquet", None) as aside:
            aside.add(turns_table(TEXTS).drop_columns(["text"]))


def test_boxes_aside_lets_the_scans_error_through(tmp_path):
    with pytest.raises(RuntimeError, match="scan failed"):
        with BoxesAside(tmp_path / "boxes.parquet", None) as aside:
            aside.add(turns_table(TEXTS))
            raise RuntimeError("scan failed")
