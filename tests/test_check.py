"""`svit check`: each rule finds its planted records and nothing on clean ones; findings go to
check_results; error-severity findings make the command exit 1."""

from __future__ import annotations

import json

import duckdb
import pytest

from svit.check import RULES, check
from svit.core.errors import SvitError
from tests.helpers import query, svit_cli

CLEAN_ANSWER = "The man is holding a red umbrella while he walks across the street in the light rain today."
LOOP = "The sign says stop. " + "The sign says stop and go. " * 12
# An answer long enough for the near-duplicate rule, and the same with one word changed.
LONG = (
    "A woman in a yellow raincoat crosses the wide street while holding a small dog under her arm. Behind her a "
    "city bus waits at the light with its doors open, and two cyclists pass on the left side of the lane. The shop "
    "windows reflect the grey sky, a man sells flowers from a green cart near the corner, and a child points at "
    "the pigeons gathered around a bench beside the fountain in the square."
)
NEAR = LONG.replace("small dog", "small cat")


def record(rid: str, turns: list[tuple[str, str]], image: str | None = "vg/VG_100K_2/1.jpg") -> dict:
    return {"id": rid, "image": image, "conversations": [{"from": f, "value": v} for f, v in turns]}


def clean(rid: str, image: str | None = "vg/VG_100K_2/1.jpg") -> dict:
    return record(rid, [("human", "<image>\nWhat is he holding?" if image else "Hi?"), ("gpt", CLEAN_ANSWER)], image)


# Each planted record breaks exactly one rule (and the clean ones none).
PLANTED = {
    "empty_turn": [record("p_empty", [("human", "<image>\nWhat?"), ("gpt", "  ")])],
    "unanswered_last_turn": [
        record("p_unanswered", [("human", "<image>\nWhat?"), ("gpt", "A cat."), ("human", "And?")])
    ],
    "roles_not_alternating": [record("p_roles", [("human", "<image>\nWhat?"), ("gpt", "A cat."), ("gpt", "A dog.")])],
    "image_placeholders": [record("p_two_images", [("human", "<image>\n<image>\nWhat?"), ("gpt", "A cat.")])],
    "image_in_answer": [record("p_image_answer", [("human", "<image>\nWhat?"), ("gpt", "A cat <image> here.")])],
    "failure_answer": [
        record("p_refusal", [("human", "<image>\nWhat?"), ("gpt", "I'm sorry, but I cannot help with that.")]),
        record("p_empty_msg", [("human", "<image>\nDescribe."), ("gpt", "It seems like your message is empty.")]),
    ],
    "truncated_answer": [
        record("p_cut", [("human", "<image>\nDescribe."), ("gpt", CLEAN_ANSWER + " Behind him a bus waits at the")])
    ],
    "repetitive_answer": [record("p_loop", [("human", "<image>\nWhat does it say?"), ("gpt", LOOP)])],
    "near_duplicate_answer": [record("p_near", [("human", "<image>\nDescribe the street."), ("gpt", NEAR)])],
}


@pytest.fixture(scope="module")
def planted(guarded):
    """A mix-shaped table of planted and clean records in a copy of the built sample."""
    rows = [clean("c1"), clean("c2", image=None), clean("c3", image="coco/train2017/2.jpg")]
    rows += [record("c5", [("human", "<image>\nDescribe the scene."), ("gpt", LONG)], image="vg/VG_100K/5.jpg")]
    rows += [r for records in PLANTED.values() for r in records]
    rows += [record("c1", [("human", "Hello?"), ("gpt", CLEAN_ANSWER)], image=None)]  # duplicate id
    rows += [clean("c4", image="coco/train2017/2.jpg")]  # the same image and turns as c3
    con = duckdb.connect(str(guarded.duckdb_path))
    con.execute(
        "create table planted_mix as select r.id, r.image, r.conversations, (i - 1)::bigint as record_order "
        "from (select unnest(?::struct(id varchar, image varchar, "
        'conversations struct("from" varchar, "value" varchar)[])[]) as r, '
        "generate_subscripts(?::struct(id varchar)[], 1) as i)",
        [rows, [{"id": r["id"]} for r in rows]],
    )
    con.close()
    return guarded, rows


def test_every_planted_record_is_found_under_its_rule_and_nothing_else(planted):
    warehouse, rows = planted
    result = check(warehouse, "planted_mix")
    found = {}
    for rule, record_id in query(warehouse, "select rule, record_id from check_results where model = 'planted_mix'"):
        found.setdefault(rule, []).append(record_id)
    expected = {rule: sorted(r["id"] for r in records) for rule, records in PLANTED.items()}
    expected["duplicate_id"] = ["c1", "c1"]
    expected["exact_duplicate"] = ["c4"]
    assert {rule: sorted(ids) for rule, ids in found.items()} == expected
    assert result.records == len(rows)
    counts = {r.rule: r.records for r in result.rules}
    assert counts == {rule: len(expected.get(rule, [])) for rule in RULES}
    assert result.errors == sum(len(expected[r]) for r in expected if RULES[r].severity == "error")


def test_findings_have_severity_detail_and_the_report(planted):
    warehouse, _ = planted
    check(warehouse, "planted_mix")
    rows = dict(
        (rid, (severity, detail))
        for rid, severity, detail in query(
            warehouse, "select record_id, severity, detail from check_results where model = 'planted_mix'"
        )
    )
    assert rows["p_two_images"] == ("error", "2 <image> in the questions, 1 image (llava-1.5)")
    assert rows["p_unanswered"] == ("error", "the last turn is from human")
    assert rows["p_roles"] == ("error", "turn 2 is from gpt")
    assert rows["p_empty"] == ("error", "turn 1 is empty")
    assert rows["p_refusal"] == ("warning", 'answer 1: "I\'m sorry, but I cannot help with that."')
    assert rows["p_loop"] == ("warning", "answer 1 repeats its word 4-grams")
    report = (warehouse.root / "report" / "check_planted_mix.md").read_text()
    assert "| image_placeholders | error | 1 |" in report
    assert (warehouse.root / "report" / "check_planted_mix.html").is_file()


def test_a_family_that_needs_one_placeholder_per_image(planted):
    warehouse, _ = planted
    result = check(warehouse, "planted_mix", family="qwen2.5-vl")
    ids = {r[0] for r in query(warehouse, "select record_id from check_results where rule = 'image_placeholders'")}
    # Qwen: a text-only record without placeholders is fine, an image record needs exactly one.
    assert ids == {"p_two_images"}
    assert result.family == "qwen2.5-vl"


def test_single_modality_and_the_rules_it_skips(built_sample, guarded):
    result = check(guarded, "mix_svit_core_150k")
    counts = {r.rule: r.records for r in result.rules}
    assert counts["single_modality"] == 1 and sum(counts.values()) == 1
    assert set(result.skipped) == {"images", "length", "contamination"}


def test_the_command_exits_1_on_errors_and_names_unknown_models(planted):
    warehouse, _ = planted
    proc = svit_cli("--warehouse", str(warehouse.root), "check", "planted_mix")
    assert proc.returncode == 1
    assert "image_placeholders       error            1" in proc.stdout
    assert proc.stderr.strip() == "svit: planted_mix: 5 findings of error severity (see above)"
    proc = svit_cli("--warehouse", str(warehouse.root), "check", "mix_svit_core_150k")
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(SvitError, match="no model named 'nope'; models: .*llava_svit_all"):
        check(warehouse, "nope")


def test_records_over_the_cut_off_from_the_token_counts(planted):
    from svit.tokens import run_tokens

    warehouse, _ = planted
    result = check(warehouse, "planted_mix", family="qwen2-vl")
    assert result.skipped["length"].startswith("needs the table record_tokens")
    run_tokens(warehouse, "qwen2-vl", models=["planted_mix"], progress=False)
    result = check(warehouse, "planted_mix", family="qwen2-vl")
    assert result.skipped == {"images": "needs the table image_files (svit images ROOT)",
                              "contamination": "needs --benchmarks DIR (a list of images or questions per benchmark)",
                              "length": "needs --max-length N, the trainer's cut-off"}  # fmt: skip
    totals = dict(query(warehouse, "select record, total_tokens from record_tokens where model = 'planted_mix'"))
    cut = sorted(t for t in totals.values() if t is not None)[-3]
    result = check(warehouse, "planted_mix", family="qwen2-vl", max_length=cut)
    over = query(warehouse, "select record_index, detail from check_results where rule = 'over_max_length'")
    assert sorted(over) == sorted((i, f"{t} tokens") for i, t in totals.items() if t is not None and t > cut)
    assert len(over) >= 1 and "length" not in result.skipped


def test_near_duplicates_are_found_pair_by_pair(guarded):
    """100 answers of 100 random words, each with a copy that differs in one word (shingle
    similarity about 0.9), among 100 unrelated answers: every copy is found, paired with its
    original, and nothing else."""
    import random

    rng = random.Random(7)
    vocabulary = [f"word{i}" for i in range(3000)]
    rows, copies = [], {}
    for k in range(100):
        words = [rng.choice(vocabulary) for _ in range(100)]
        copy = list(words)
        copy[rng.randrange(100)] = "different"
        original = len(rows)
        rows.append(record(f"o{k}", [("human", "Tell me."), ("gpt", " ".join(words) + ".")], image=None))
        rows.append(record(f"u{k}", [("human", "Tell me."), ("gpt", " ".join(rng.sample(vocabulary, 100)) + ".")]))
        copies[f"n{k}"] = original
        rows.append(record(f"n{k}", [("human", "Tell me."), ("gpt", " ".join(copy) + ".")], image=None))
    con = duckdb.connect(str(guarded.duckdb_path))
    con.execute(
        "create or replace table near_mix as select r.id, r.image, r.conversations, (i - 1)::bigint as record_order "
        "from (select unnest(?::struct(id varchar, image varchar, "
        'conversations struct("from" varchar, "value" varchar)[])[]) as r, '
        "generate_subscripts(?::struct(id varchar)[], 1) as i)",
        [rows, [{"id": r["id"]} for r in rows]],
    )
    con.close()
    check(guarded, "near_mix")
    found = query(
        guarded,
        "select record_id, detail from check_results where model = 'near_mix' and rule = 'near_duplicate_answer'",
    )
    assert {rid for rid, _ in found} == set(copies)
    for rid, detail in found:
        assert detail.startswith(f"answers like record {copies[rid]} (similarity ")


BENCH_QUESTION = "Is there a red umbrella leaning against the wooden bench near the door?"


@pytest.fixture(scope="module")
def benchmark_lists(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmarks")
    (folder / "pope.csv").write_text("image,coco_id\nCOCO_val2014_000000000042.jpg,\n,155200\n")
    (folder / "gqa.json").write_text('[{"image": "images/n123.jpg"}, {"vg_id": 9999999}]')
    (folder / "vqa.jsonl").write_text(json.dumps({"question": BENCH_QUESTION}) + "\n")
    (folder / "README.txt").write_text("not a list: other suffixes are left alone")
    return folder


def test_contamination_by_image_and_by_question(guarded, benchmark_lists):
    def ask(question: str) -> list[tuple[str, str]]:
        return [("human", question), ("gpt", "Yes, it is.")]

    rows = [
        record("b_coco_name", ask("<image>\nWhat is this?"), image="coco/train2017/000000000042.jpg"),
        record("b_vg_coco", ask("<image>\nWhat is this?"), image="vg/VG_100K_2/2.jpg"),  # VG 2 is COCO 155200
        record("b_file", ask("<image>\nWhat is this?"), image="gqa/images/n123.jpg"),
        # The benchmark question (13 words, 6 word 8-grams) with "the door" as "a door": 4 of 6 kept.
        record(
            "b_text", ask("<image>\nTell me: is there a red umbrella leaning against the wooden bench near a door?")
        ),
        record("b_clean", ask("<image>\nWhat is this?"), image="coco/train2017/000000000043.jpg"),
        record("b_partial", ask("<image>\nIs there a red umbrella leaning against the wall?")),  # 1 of 6
    ]
    con = duckdb.connect(str(guarded.duckdb_path))
    con.execute(
        "create or replace table bench_mix as select r.id, r.image, r.conversations, (i - 1)::bigint as record_order "
        "from (select unnest(?::struct(id varchar, image varchar, "
        'conversations struct("from" varchar, "value" varchar)[])[]) as r, '
        "generate_subscripts(?::struct(id varchar)[], 1) as i)",
        [rows, [{"id": r["id"]} for r in rows]],
    )
    con.close()
    result = check(guarded, "bench_mix", benchmarks=benchmark_lists)
    assert "contamination" not in result.skipped
    found = dict(
        query(guarded, "select record_id, detail from check_results where model = 'bench_mix' and rule like 'bench%'")
    )
    assert found == {
        "b_coco_name": "image of pope (COCO id 42)",
        "b_vg_coco": "image of pope (COCO id 155200)",
        "b_file": "image of gqa (file n123.jpg)",
        "b_text": f'holds 67% of a question of vqa: "{BENCH_QUESTION[:60]}"',
    }
    assert check(guarded, "bench_mix").skipped["contamination"].startswith("needs --benchmarks DIR")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no .csv, .json or .jsonl file in it"),
        ({"a.csv": "name,url\nx,y\n"}, "none of the columns coco_id, image, vg_id, question; found name, url"),
        ({"a.csv": "coco_id\n12\nabc\n"}, "1 rows whose coco_id or vg_id is not a whole number"),
        ({"a.json": "{not json"}, "cannot be read as a table"),
    ],
)
def test_benchmark_lists_that_cannot_be_read_stop_in_one_line(planted, tmp_path, files, message):
    warehouse, _ = planted
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SvitError, match=message) as error:
        check(warehouse, "planted_mix", benchmarks=tmp_path)
    assert "\n" not in str(error.value)
    with pytest.raises(SvitError, match="not a folder"):
        check(warehouse, "planted_mix", benchmarks=tmp_path / "missing")
