"""``generate_corpus``: a synthetic corpus laid out like the BAAI/SVIT download, plus its ground truth.

Layout under ``out_dir``::

    data/<task>.json  (or data/<task>.zip holding <task>.json)   SVIT original format
    raw/annotations/vg/{image_data,objects,region_descriptions}.json
    raw/annotations/coco/captions_train2017.json
    format/llava-v1.5/SVIT_core_150K.json  format/llava-v1.5/SVIT_mix_665K.json
    llava/llava_v1_5_mix665k.json  llava/llava_instruct_150k.json
    GROUND_TRUTH.json

JSON settings: ``data/`` and ``raw/`` as ``json.dump`` defaults (one line, ``", "`` and
``": "``, ensure_ascii=True), like the real data files; ``format/llava-v1.5/`` as
``json.dump(records, f, indent=4, ensure_ascii=False)`` and ``llava/`` with indent=2 (the
real files' layout is unknown). Every file is streamed image by image or record by
record, and the same (images, seed) gives byte-identical files, zips included.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections import Counter
from pathlib import Path

from svit.core.baai_procedure import BOX_PATTERN
from svit.core.facts import IMAGE_TOKEN, LLAVA_MIX665K_PARTS, PHRASE_START, REFERRING_INSTRUCTIONS, TASKS
from synth import llava_files, svit_llava, svit_original, visual_genome
from synth.jsonfmt import HashingWriter, JsonArrayWriter, encode_element
from synth.seeds import stream
from synth.text import TextPool

GENERATOR_VERSION = 1
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_PERMISSIONS = 0o644
JSON_SETTINGS = {
    "data": "json.dump defaults: one line, ', ' and ': ' separators, ensure_ascii=True",
    "raw": "json.dump defaults: one line, ', ' and ': ' separators, ensure_ascii=True",
    "format/llava-v1.5": "json.dump(records, f, indent=4, ensure_ascii=False)",
    "llava": "json.dump(records, f, indent=2, ensure_ascii=False)",
    "encoding": "utf-8",
    "zip": "ZIP_DEFLATED, date_time (1980, 1, 1, 0, 0, 0), mode 0644, zip64 headers",
}


class _Output:
    """One output file written under a temporary name, renamed into place when complete."""

    def __init__(self, out_dir: Path, relpath: str, zip_member: str | None = None):
        self.relpath = relpath
        self.path = out_dir / relpath
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.zip_member = zip_member
        if zip_member is None:
            self._raw = open(self.tmp, "wb")
            self._zip = None
        else:
            self._zip = zipfile.ZipFile(self.tmp, "w")
            info = zipfile.ZipInfo(zip_member, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = ZIP_PERMISSIONS << 16
            self._raw = self._zip.open(info, "w", force_zip64=True)
        self.sink = HashingWriter(self._raw)

    def finish(self, files: dict) -> None:
        self.sink.flush()
        self._raw.close()
        if self._zip is not None:
            self._zip.close()
        os.replace(self.tmp, self.path)
        entry = {"bytes": self.path.stat().st_size}
        if self._zip is None:
            entry["sha256"] = self.sink.sha256.hexdigest()
        else:
            entry["sha256"] = _sha256_file(self.path)
            entry["member"] = self.zip_member
            entry["member_bytes"] = self.sink.bytes
            entry["member_sha256"] = self.sink.sha256.hexdigest()
        files[self.relpath] = entry


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _array(out_dir: Path, relpath: str, indent: int | None, ensure_ascii: bool, zip_member: str | None = None):
    output = _Output(out_dir, relpath, zip_member)
    return output, JsonArrayWriter(output.sink, indent, ensure_ascii)


def _progress(enabled: bool, total: int, desc: str, unit: str):
    """A progress bar on standard error, shown only on a terminal (disable=None), as svit's other
    bars; it is cleared when done (the caller prints the summary)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False, disable=None)


def _advance(bar, close: bool = False) -> None:
    if bar is not None:
        bar.update()
        if close:
            bar.close()


def _image_prefix(record: dict) -> str:
    image = record.get("image")
    return "none" if image is None else image.split("/", 1)[0]


class _TaskStats:
    def __init__(self):
        self.images = self.blocks = self.turns = 0
        self.chars = Counter()
        self.extra_keys: Counter = Counter()
        self.blocks_with_extra_keys = 0

    def add(self, blocks: list[dict]) -> None:
        self.images += 1
        self.blocks += len(blocks)
        for block in blocks:
            content = block["content"]
            self.turns += len(content)
            if len(block) > 1:
                self.blocks_with_extra_keys += 1
                self.extra_keys.update(k for k in block if k != "content")
            for turn in content:
                self.chars[turn["from"]] += len(turn["value"])


class _LlavaStats:
    def __init__(self):
        self.records = 0
        self.turns = 0
        self.by_prefix: Counter = Counter()
        self.ids: Counter = Counter()
        self.integer_ids = 0
        self.image_after_question = 0
        self.without_image = 0

    def add(self, record: dict) -> None:
        self.records += 1
        self.turns += len(record["conversations"])
        self.by_prefix[_image_prefix(record)] += 1
        record_id = record["id"]
        self.ids[(type(record_id).__name__, record_id)] += 1
        if isinstance(record_id, int):
            self.integer_ids += 1
        if "image" not in record:
            self.without_image += 1
        elif record["conversations"][0]["value"].endswith("\n" + IMAGE_TOKEN):
            self.image_after_question += 1

    def summary(self) -> dict:
        repeated = [n for n in self.ids.values() if n > 1]
        return {
            "records": self.records,
            "turns": self.turns,
            "records_per_image_prefix": dict(sorted(self.by_prefix.items())),
            "records_without_image": self.without_image,
            "integer_id_records": self.integer_ids,
            "distinct_ids": len(self.ids),
            "repeated_ids": len(repeated),
            "records_with_repeated_id": sum(repeated),
            "image_token_after_question_records": self.image_after_question,
        }


def _remove_stale(out_dir: Path, zip_data: bool) -> None:
    """Drop the other form of each data file, so a corpus is never half JSON, half zip."""
    for task in TASKS:
        stale = out_dir / "data" / (f"{task}.json" if zip_data else f"{task}.zip")
        if stale.exists():
            stale.unlink()


def generate_corpus(out_dir: Path, images: int, seed: int, zip_data: bool = False, progress: bool = False) -> dict:
    """Write the corpus for (images, seed) under ``out_dir``; return (and write) its ground truth."""
    if images < 1:
        raise ValueError(f"images must be at least 1, got {images}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir, zip_data)
    files: dict[str, dict] = {}

    # Planning takes a few seconds at full scale: a bar of its four steps says so.
    bar = _progress(progress, 4, "planning", " steps")
    pool = TextPool(stream(seed, "text"))
    _advance(bar)
    metas = visual_genome.image_data(images, seed)
    _advance(bar)
    plans, uncovered = svit_original.plan(metas, seed)
    _advance(bar)
    core = svit_llava.plan_core(plans, images, seed)
    _advance(bar, close=True)

    out, w = _array(out_dir, "raw/annotations/vg/image_data.json", None, True)
    for meta in metas:
        w.write(meta)
    w.close()
    out.finish(files)

    truth = _write_svit_and_raw(out_dir, metas, plans, core, pool, seed, zip_data, progress, files)
    truth["core"] = _write_core(out_dir, core, files)
    truth.update(_write_mixes(out_dir, core, pool, seed, images, progress, files))

    truth["images"] = images
    truth["images_without_svit_data"] = uncovered
    truth["generator"] = {
        "module": "synth.corpus",
        "version": GENERATOR_VERSION,
        "images": images,
        "seed": seed,
        "zip": zip_data,
        "json": JSON_SETTINGS,
    }
    truth["files"] = dict(sorted(files.items()))
    text = json.dumps(truth, sort_keys=True, indent=2) + "\n"
    tmp = out_dir / "GROUND_TRUTH.json.part"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out_dir / "GROUND_TRUTH.json")
    return json.loads(text)


def _write_svit_and_raw(out_dir, metas, plans, core, pool, seed, zip_data, progress, files) -> dict:
    """The single pass over images: data/<task>, objects, regions, COCO captions, core records."""
    data = {}
    for task in TASKS:
        if zip_data:
            data[task] = _array(out_dir, f"data/{task}.zip", None, True, zip_member=f"{task}.json")
        else:
            data[task] = _array(out_dir, f"data/{task}.json", None, True)
    objects_out, objects_w = _array(out_dir, "raw/annotations/vg/objects.json", None, True)
    regions_out, regions_w = _array(out_dir, "raw/annotations/vg/region_descriptions.json", None, True)
    coco_images: list[str] = []
    coco_annotations: list[str] = []

    writer = svit_original.BlockWriter(pool)
    stats = {task: _TaskStats() for task in TASKS}
    marks = boxes = 0
    yes = no = 0
    instructions: Counter = Counter()
    bar = _progress(progress, len(metas), "SVIT data and annotations", " images")
    for position, meta in enumerate(metas):
        image_id = meta["image_id"]
        ann = visual_genome.annotate(seed, position, meta)
        objects_w.write(ann.objects)
        regions_w.write(ann.regions)
        if meta["coco_id"] is not None:
            image, annotations = visual_genome.coco_entries(seed, position, meta)
            coco_images.append(json.dumps(image))
            coco_annotations.extend(json.dumps(a) for a in annotations)
        plan = plans[position]
        for task in TASKS:
            if plan.blocks(task) == 0:
                continue
            blocks = writer.blocks(task, seed, image_id, plan, ann.groups)
            data[task][1].write({"image_id": image_id, "conversations": blocks})
            stats[task].add(blocks)
            if task == "referring_qa":
                for block in blocks:
                    for turn in block["content"]:
                        marks += turn["value"].count(PHRASE_START)
                        boxes += len(BOX_PATTERN.findall(turn["value"]))
            elif task == "complex_reasoning":
                for block in blocks:
                    answer = block["content"][1]["value"]
                    yes += answer.startswith("Yes, ")
                    no += answer.startswith("No, ")
            for file_position, record in svit_llava.core_records(core, task, position, meta, blocks, seed):
                core.store(file_position, encode_element(record, 4, False))
                if task == "referring_qa":
                    question = record["conversations"][0]["value"]
                    instructions[next(i for i in REFERRING_INSTRUCTIONS if question.endswith(" " + i))] += 1
        if bar is not None:
            if position % 50 == 0:  # the counts so far, shown at the bar's next refresh
                bar.set_postfix_str(
                    f"{sum(s.blocks for s in stats.values()):,} blocks, "
                    f"{sum(s.turns for s in stats.values()) // 2:,} QA pairs",
                    refresh=False,
                )
            bar.update()
    if bar is not None:
        bar.close()

    for task in TASKS:
        output, w = data[task]
        w.close()
        output.finish(files)
    for output, w in ((objects_out, objects_w), (regions_out, regions_w)):
        w.close()
        output.finish(files)
    _write_coco(out_dir, coco_images, coco_annotations, files)
    core.instruction_counts = instructions

    n_images = len(metas)
    return {
        "images_per_task": {t: stats[t].images for t in TASKS},
        "blocks_per_task": {t: stats[t].blocks for t in TASKS},
        "turns_per_task": {t: stats[t].turns for t in TASKS},
        "qa_pairs_per_task": {t: stats[t].turns // 2 for t in TASKS},
        "qa_pairs_total": sum(stats[t].turns // 2 for t in TASKS),
        "chars_per_task": {t: dict(sorted(stats[t].chars.items())) for t in TASKS},
        "blocks_with_extra_keys": {t: stats[t].blocks_with_extra_keys for t in TASKS},
        "extra_keys_per_task": {t: dict(sorted(stats[t].extra_keys.items())) for t in TASKS},
        "images_without_detail": n_images - stats["detail_description"].images,
        "images_missing_per_task": {t: n_images - stats[t].images for t in TASKS},
        "boxes_total": boxes,
        "marks_total": marks,
        "complex_reasoning_answers_starting": {"yes": yes, "no": no},
        "coco": {"images": len(coco_images), "captions": len(coco_annotations)},
    }


def _write_coco(out_dir: Path, images: list[str], annotations: list[str], files: dict) -> None:
    """captions_train2017.json, the same bytes ``json.dump`` would give for the whole dict."""
    info = {"description": "Synthetic COCO 2017 captions (svit-warehouse)", "version": "1.0", "year": 2017}
    licenses = [
        {"url": "http://creativecommons.org/licenses/by/2.0/", "id": k, "name": "Attribution License"}
        for k in range(1, 9)
    ]
    output = _Output(out_dir, "raw/annotations/coco/captions_train2017.json")
    sink = output.sink
    sink.write('{"info": ' + json.dumps(info) + ', "licenses": ' + json.dumps(licenses) + ', "images": [')
    sink.write(", ".join(images))
    sink.write('], "annotations": [')
    sink.write(", ".join(annotations))
    sink.write("]}")
    output.finish(files)


def _write_core(out_dir: Path, core: svit_llava.CorePlan, files: dict) -> dict:
    output = _Output(out_dir, "format/llava-v1.5/SVIT_core_150K.json")
    w = JsonArrayWriter(output.sink, indent=4, ensure_ascii=False)
    for text in core.encoded:
        w.write_encoded(text)
    w.close()
    output.finish(files)
    per_task = Counter(core.task_of_position)
    return {
        "records": core.size,
        "records_per_task": {t: per_task[t] for t in TASKS},
        "single_qa_records": core.size - per_task["conversation"],
        "referring_instructions": {i: core.instruction_counts[i] for i in REFERRING_INSTRUCTIONS},
        "id_format": "SVIT_<6 digits>, numbered in a shuffled order (not task/image/block)",
    }


def _write_mixes(out_dir, core, pool, seed, images, progress, files) -> dict:
    """llava/llava_v1_5_mix665k.json, llava/llava_instruct_150k.json and SVIT_mix_665K.json."""
    sizes = llava_files.part_sizes(images, core.size)
    mixer = llava_files.MixWriter(pool, seed)
    mix_out, mix_w = _array(out_dir, "llava/llava_v1_5_mix665k.json", 2, False)
    inst_out, inst_w = _array(out_dir, "llava/llava_instruct_150k.json", 2, False)
    svit_out, svit_w = _array(out_dir, "format/llava-v1.5/SVIT_mix_665K.json", 4, False)
    mix_stats, inst_stats, svit_stats = _LlavaStats(), _LlavaStats(), _LlavaStats()
    # SVIT_mix_665K: the core records where the LLaVA-Instruct part was, i.e. first.
    for text in core.encoded:
        svit_w.write_encoded(text)
    svit_stats.by_prefix["vg"] += core.size
    svit_stats.records += core.size
    per_part = {}
    bar = _progress(progress, sum(sizes.values()), "LLaVA-1.5 files", " records")
    for part, _count, _prefix in LLAVA_MIX665K_PARTS:
        n = 0
        for record in mixer.records(part, sizes[part]):
            text = mix_w.encode(record)
            mix_w.write_encoded(text)
            mix_stats.add(record)
            if part == "llava_instruct":
                inst_w.write_encoded(text)
                inst_stats.add(record)
            else:
                svit_w.write(record)
                svit_stats.by_prefix[_image_prefix(record)] += 1
                svit_stats.records += 1
            n += 1
            if bar is not None:
                bar.update()
        per_part[part] = n
    if bar is not None:
        bar.close()
    for output, w in ((mix_out, mix_w), (inst_out, inst_w), (svit_out, svit_w)):
        w.close()
        output.finish(files)
    mix_summary = mix_stats.summary()
    mix_summary["records_per_part"] = per_part
    mix_summary["part_order"] = [part for part, _, _ in LLAVA_MIX665K_PARTS]
    return {
        "llava_mix665k": mix_summary,
        "llava_instruct_150k": inst_stats.summary(),
        "svit_mix_665k": {
            "records": svit_stats.records,
            "records_per_image_prefix": dict(sorted(svit_stats.by_prefix.items())),
            "core_records_first": core.size,
        },
    }
