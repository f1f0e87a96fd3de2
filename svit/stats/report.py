"""The report: report.md and report.html (the same, self-contained: the plots inlined as base64),
csv/<table>.csv for every analysis (and the --compare tables), the PNG plots; the terminal summary.

The report shows one section per analysis, in the order of `_SECTIONS`, a plot after some
(`_PLOTS`); docs/statistics.md describes the sections.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svit.core.errors import SvitError
from svit.core.output_guard import check_output
from svit.core.warehouse import Warehouse
from svit.stats.analyses import Table, is_model_analysis


@dataclass
class StatsReport:
    """What `run_stats` computed and wrote."""

    out_dir: Path
    models: list[str]
    compare: tuple[str, str] | None
    tables: dict[str, Table]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per analysis
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    # The report's header (`report_header`): when, from which warehouse and snapshot, with which tools.
    header: list[tuple[str, str]] = field(default_factory=list)
    # Analyses not run because a table they read is not there: name -> why.
    not_run: dict[str, str] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """A short summary for the terminal: records, turns, images per task and per model; words."""
        lines = []
        words = _dist_index(self.tables.get("svit_text_lengths"))
        sizes = self.tables.get("svit_task_sizes")
        if sizes is not None:
            lines.append(f"{'task':<20} {'records':>10} {'turns':>11} {'images':>8} {'q words':>8} {'a words':>8}")
            for row in sizes.dicts():
                q = words.get((row["task"], "question words"), {}).get("mean")
                a = words.get((row["task"], "answer words"), {}).get("mean")
                lines.append(
                    f"{row['task']:<20} {row['records']:>10,} {row['turns']:>11,} {row['images']:>8,} "
                    f"{_num(q):>8} {_num(a):>8}"
                )
            if not sizes.rows:
                lines.append("(no SVIT records)")
        model_sizes = {r["model"]: r for r in self.tables["llava_model_sizes"].dicts()}
        mwords = _dist_index(self.tables.get("llava_text_lengths"))
        if self.models:
            lines.append(f"{'model':<28} {'records':>10} {'turns':>11} {'images':>8} {'q words':>8} {'a words':>8}")
            for m in self.models:
                row = model_sizes.get(m)
                if row is None:
                    lines.append(f"{m:<28} {'no records':>10}")
                    continue
                q = mwords.get((m, "question words"), {}).get("mean")
                a = mwords.get((m, "answer words"), {}).get("mean")
                lines.append(
                    f"{m:<28} {row['records']:>10,} {row['turns']:>11,} {row['images']:>8,} {_num(q):>8} {_num(a):>8}"
                )
        over = self.tables.get("llava_token_over_length")
        for row in over.dicts() if over is not None else []:
            unknown = f", {row['size_unknown']:,} of unknown image size" if row["size_unknown"] else ""
            share = "-" if row["over_share"] is None else f"{row['over_share']:.2%}"
            lines.append(
                f"{row['model']} ({row['family']}, {row['tokenizer']}): {row['over']:,} records over "
                f"{row['max_length']:,} tokens ({share}), longest {row['longest'] or 0:,}{unknown}"
            )
        return lines


def report_header(warehouse: Warehouse, now: datetime.datetime | None = None) -> list[tuple[str, str]]:
    """The report's header lines: generated at (UTC), warehouse path, snapshot id, tool versions."""
    import platform

    import duckdb

    import svit

    now = now or datetime.datetime.now(datetime.UTC)
    snapshot = warehouse.snapshot()
    return [
        ("Generated", now.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Warehouse", str(warehouse.root)),
        ("Snapshot", snapshot.name if snapshot is not None else "none"),
        ("Versions", f"svit {svit.__version__}, duckdb {duckdb.__version__}, python {platform.python_version()}"),
    ]


def check_report_folder(warehouse: Warehouse, out: Path) -> None:
    """Refuse a report folder inside the warehouse (but for `<warehouse>/report/`), or one whose
    report files are symlinks into it: the report is written through them, in place."""
    if out.exists() and not out.is_dir():
        raise SvitError(f"--out {out} is a file; the report is a folder (report.md, report.html, csv/, PNGs)")
    for folder, patterns in ((out, ("report.md", "report.html", "*.png")), (out / "csv", ("*.csv",))):
        check_output(warehouse, folder, allowed=("report",), what="the report")
        if not folder.is_dir():
            continue
        for path in sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_symlink()}):
            check_output(warehouse, path, allowed=("report",), what="the report")


def in_report_order(names: Sequence[str]) -> list[str]:
    """The analyses in the order of their sections: the SVIT ones, then the models' ones, each in
    the order of `_SECTIONS`; an analysis without a section there after those of its kind, by name."""
    position = {name: i for i, name in enumerate(_SECTIONS)}
    return sorted(names, key=lambda n: (is_model_analysis(n), position.get(n, len(position)), n))


# --------------------------------------------------------------------------- helpers


def _dist_index(table: Table | None) -> dict[tuple[str, str], dict[str, Any]]:
    if table is None:
        return {}
    return {(r["scope"], r["measure"]): r for r in table.dicts()}


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,.1f}"


# --------------------------------------------------------------------------- the report

# Columns shown in the Markdown/HTML tables (the CSV files have every column).
_SHOWN = {
    "svit_task_sizes": (
        "task",
        "records",
        "qa_pairs",
        "turns",
        "images",
        "mean_turns_per_record",
        "min_turns_per_record",
        "max_turns_per_record",
    ),
    "llava_model_sizes": (
        "model",
        "records",
        "turns",
        "qa_pairs",
        "images",
        "text_only",
        "text_only_share",
        "multi_image",
        "with_video",
        "mean_media_per_record",
        "mean_turns_per_record",
        "min_turns_per_record",
        "max_turns_per_record",
    ),
}
# The yes/no tables count answers; `svit mix` counts records by their first answer, by the same rule.
_YES_NO_NOTE = (
    "Every answer (gpt turn) counts; svit mix counts records by their first answer instead. A Yes (No) "
    "answer begins with yes (no), any case, then the end or a character other than a letter or digit "
    "(Yes. and yes, count; yes1 and Yesterday do not): macros/yes_no.sql, the rule svit mix uses too."
)
# Each analysis's section title and note, in the report's order (`in_report_order`). An analysis
# not listed here still gets a section, titled by its name.
_SECTIONS = {
    "svit_task_sizes": (
        "SVIT: records, QA pairs, turns and images per task",
        "A record is one original conversation block (one LLaVA record).",
    ),
    "svit_text_lengths": (
        "SVIT: words and characters per question and answer",
        "Words: runs of non-whitespace characters, LLaVA's <image> token never one; characters: Unicode code points. "
        "Percentiles interpolate linearly; the histograms (10 equal-width bins from min to max) "
        "are in the plots and in csv/svit_text_lengths.csv.",
    ),
    "svit_yes_no": ("SVIT: answers that are Yes / No answers", _YES_NO_NOTE),
    "svit_duplicates": (
        "SVIT: duplicate questions and answers",
        "repeats = turns whose text occurred before (turns - distinct texts).",
    ),
    "svit_detail_instructions": (
        "SVIT: detail-instruction usage",
        "How many detail_description records ask each of the 34 published instructions.",
    ),
    "svit_boxes": (
        "SVIT: boxes per turn, record and image; box area and aspect ratio",
        "Referring turns; area as a share of the image, aspect ratio width/height in pixels.",
    ),
    "svit_box_border": ("SVIT: boxes touching the image border", "A coordinate equal to 0 or 1."),
    "svit_top_phrases": ("SVIT: top object phrases", "Marked phrases, lower-cased."),
    "svit_images": ("Images by Visual Genome folder and COCO overlap", "in_coco: the image has a COCO id."),
    "llava_model_sizes": (
        "Models: records, turns, QA pairs, images",
        "images: distinct single images; text_only: records without media; multi_image: records naming several "
        "images; with_video: records naming a video; media: images and videos per record.",
    ),
    "llava_image_prefixes": (
        "Models: records by image prefix",
        "The first folder of `image` (coco, vg, gqa, ocr_vqa, textvqa); none = text-only.",
    ),
    "llava_text_lengths": (
        "Models: words and characters per question and answer; words per modality",
        "Words as for SVIT (the <image> token is not a word); record words (image / text-only): the sum over "
        "a record's turns, as LLaVA's modality_lengths groups them.",
    ),
    "llava_yes_no": ("Models: answers that are Yes / No answers", _YES_NO_NOTE),
    "llava_duplicates": ("Models: duplicate questions and answers", "The <image> token is removed before comparing."),
    "llava_image_sizes": (
        "Models: image sizes and aspect ratios",
        "Each distinct image a model's records name, as `svit images` read the file (files that could not be read "
        "are left out; `svit images` lists them): width and height in pixels, aspect ratio width / height.",
    ),
    "llava_token_lengths": (
        "Models: tokens per record",
        "As `svit tokens` counted them, per family and tokenizer (the measure names both): text tokens are the "
        "conversation laid out as the family's trainer does; image tokens follow the family's rule from the image "
        "size (docs/tokens.md). Records whose image size is unknown have no image or total count.",
    ),
    "llava_token_over_length": (
        "Models: records over the trainer's cut-off",
        "max_length: `svit stats --max-length`, else the family's usual cut-off; over_share: of the records counted "
        "(those with a total); size_unknown: image records whose size is unknown, not judged.",
    ),
}

# Sections about SVIT's conversations are left out when there are none; the images' is not.
_SHOWN_WITHOUT_RECORDS = ("svit_images",)


@dataclass
class _Block:
    kind: str  # h1, h2, p, meta (the header: rows of name, value), table, img
    text: str = ""
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    path: Path | None = None


def write_report(report: StatsReport) -> list[Path]:
    """Write CSVs, PNGs, report.md and report.html; return the files written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    out = report.out_dir
    (out / "csv").mkdir(parents=True, exist_ok=True)
    files = [_write_csv(out / "csv" / f"{t.name}.csv", t.columns, t.rows) for t in report.tables.values()]
    blocks = _compare_blocks(report) if report.compare else _blocks(report)
    for block in blocks:
        if block.kind == "table" and block.text:
            files.append(_write_csv(out / "csv" / f"{block.text}.csv", block.columns, block.rows))
        if block.path is not None:
            files.append(block.path)
    files.append(_write_markdown(out / "report.md", blocks))
    files.append(_write_html(out / "report.html", blocks))
    return files


def _blocks(report: StatsReport) -> list[_Block]:
    t = report.tables
    blocks = [
        _Block("h1", "SVIT warehouse statistics"),
        _Block("meta", rows=report.header),
        _Block("p", "Computed by `svit stats` from the SQL in analyses/ (dbt analyses)."),
        _Block("h2", "SVIT by task"),
    ]
    records = bool(t["svit_task_sizes"].rows)
    if not records:
        blocks.append(_Block("p", "SVIT: no records (nothing ingested from data/)."))
    for name in (n for n in t if not is_model_analysis(n)):
        if records or name in _SHOWN_WITHOUT_RECORDS:
            blocks += _table_blocks(t[name]) + _plots(report.out_dir, t[name], [])
    blocks += _model_blocks(report, report.models)
    return blocks


def _model_blocks(report: StatsReport, models: list[str]) -> list[_Block]:
    t = report.tables
    blocks = [_Block("h2", "LLaVA models and mixes")]
    if not models:
        blocks.append(_Block("p", "No LLaVA models to profile (run `svit build`, or ingest a LLaVA file)."))
        return blocks
    sizes = {r["model"]: r for r in t["llava_model_sizes"].dicts()}
    empty = [m for m in models if m not in sizes]
    if empty:
        blocks.append(_Block("p", "; ".join(f"{m}: no records" for m in empty) + "."))
    present = [m for m in models if m in sizes]
    if not present:
        return blocks
    for name in (n for n in t if is_model_analysis(n)):
        blocks += _table_blocks(_only(t[name], present)) + _plots(report.out_dir, t[name], present)
    for name, why in report.not_run.items():
        blocks += [_Block("h2", _SECTIONS.get(name, (name, ""))[0]), _Block("p", f"Not computed: {why}.")]
    return blocks


def _compare_blocks(report: StatsReport) -> list[_Block]:
    a, b = report.compare
    out, t = report.out_dir, report.tables
    blocks = [
        _Block("h1", f"{a} vs {b}"),
        _Block("meta", rows=report.header),
        _Block("p", "Computed by `svit stats --compare` from the SQL in analyses/ (dbt analyses)."),
    ]
    sizes = {r["model"]: r for r in t["llava_model_sizes"].dicts()}
    for m in (a, b):
        if m not in sizes:
            blocks.append(_Block("p", f"{m}: no records."))
    rows: list[tuple] = []
    for col in _SHOWN["llava_model_sizes"][1:]:
        rows.append((col, sizes.get(a, {}).get(col, 0), sizes.get(b, {}).get(col, 0)))
    dist = _dist_index(t["llava_text_lengths"])
    for measure in sorted({k[1] for k in dist}):
        for stat in ("mean", "p50", "p95"):
            rows.append(
                (f"{measure}: {stat}", dist.get((a, measure), {}).get(stat), dist.get((b, measure), {}).get(stat))
            )
    for table, key in (("llava_yes_no", "model"),):
        byk = {r[key]: r for r in t[table].dicts()}
        for col, label in (
            ("yes_answers", "answers that are yes"),
            ("no_answers", "answers that are no"),
            ("yes_share", "yes share of the yes/no answers"),
        ):
            rows.append((label, byk.get(a, {}).get(col), byk.get(b, {}).get(col)))
    dups = {(r["model"], r["kind"]): r for r in t["llava_duplicates"].dicts()}
    for kind in ("question", "answer"):
        rows.append(
            (
                f"repeated {kind}s (share)",
                dups.get((a, kind), {}).get("repeat_share"),
                dups.get((b, kind), {}).get("repeat_share"),
            )
        )
    blocks += [_Block("h2", "Side by side"), _Block("table", "compare_side_by_side", ("statistic", a, b), rows)]
    prefixes = {(r["model"], r["image_prefix"]): r for r in t["llava_image_prefixes"].dicts()}
    names = sorted({p for _, p in prefixes})
    prefix_rows = [
        (
            p,
            prefixes.get((a, p), {}).get("records", 0),
            prefixes.get((a, p), {}).get("share", 0.0),
            prefixes.get((b, p), {}).get("records", 0),
            prefixes.get((b, p), {}).get("share", 0.0),
        )
        for p in names
    ]
    blocks += [
        _Block("h2", "Records by image prefix"),
        _Block(
            "table",
            "compare_image_prefixes",
            ("image_prefix", f"{a} records", f"{a} share", f"{b} records", f"{b} share"),
            prefix_rows,
        ),
    ]
    if dist:
        blocks.append(
            _Block(
                "img",
                "Words per question and answer",
                path=_plot_histograms(
                    out / "compare_words_histograms.png",
                    _only(t["llava_text_lengths"], [a, b]),
                    ("question words", "answer words"),
                    overlay=True,
                ),
            )
        )
    blocks += _model_blocks(report, [a, b])[1:]
    return blocks


def _only(table: Table, models: list[str]) -> Table:
    key = "model" if "model" in table.columns else "scope"
    i = table.columns.index(key)
    order = {m: k for k, m in enumerate(models)}
    rows = sorted((r for r in table.rows if r[i] in order), key=lambda r: order[r[i]])
    return Table(table.name, table.columns, rows)


def _table_blocks(table: Table) -> list[_Block]:
    title, note = _SECTIONS.get(table.name, (table.name, ""))
    columns = _SHOWN.get(table.name) or [c for c in table.columns if not c.startswith("hist_")]
    idx = [table.columns.index(c) for c in columns]
    rows = [[row[i] for i in idx] for row in table.rows]
    blocks = [_Block("h2", title)]
    if note:
        blocks.append(_Block("p", note))
    if rows:
        blocks.append(_Block("table", "", columns, rows))
    else:
        blocks.append(_Block("p", "(no records)"))
    return blocks


# --------------------------------------------------------------------------- writers


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return "" if value is None else value


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([_csv_value(v) for v in row] for row in rows)
    return path


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _write_markdown(path: Path, blocks: list[_Block]) -> Path:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            lines += [f"# {b.text}", ""]
        elif b.kind == "h2":
            lines += [f"## {b.text}", ""]
        elif b.kind == "p":
            lines += [b.text, ""]
        elif b.kind == "meta" and b.rows:
            lines += [f"- {name}: {value}" for name, value in b.rows] + [""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_md_escape(str(c)) for c in b.columns) + " |")
            lines.append("|" + "|".join("---:" if _numeric(b.rows, i) else "---" for i in range(len(b.columns))) + "|")
            for row in b.rows:
                lines.append("| " + " | ".join(_md_escape(_cell(v)) for v in row) + " |")
            lines.append("")
        elif b.kind == "img" and b.path is not None:
            lines += [f"![{b.text}]({b.path.name})", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _numeric(rows: Sequence[Sequence[Any]], i: int) -> bool:
    values = [r[i] for r in rows if r[i] is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


_CODE = re.compile(r"`([^`]+)`")


def _inline_html(text: str) -> str:
    """A paragraph's text as HTML: escaped, then Markdown's `code` spans as <code>."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def _write_html(path: Path, blocks: list[_Block]) -> Path:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(next((b.text for b in blocks if b.kind == 'h1'), 'svit stats'))}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px}"
        "td.n{text-align:right}th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
    ]
    for b in blocks:
        if b.kind in ("h1", "h2"):
            parts.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            parts.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "meta" and b.rows:
            parts.append(
                '<ul class="meta">'
                + "".join(f"<li>{html.escape(name)}: {html.escape(value)}</li>" for name, value in b.rows)
                + "</ul>"
            )
        elif b.kind == "table":
            numeric = [_numeric(b.rows, i) for i in range(len(b.columns))]
            parts.append(
                "<table><thead><tr>"
                + "".join(f"<th>{html.escape(str(c))}</th>" for c in b.columns)
                + "</tr></thead><tbody>"
            )
            for row in b.rows:
                parts.append(
                    "<tr>"
                    + "".join(
                        f"<td{' class=n' if n else ''}>{html.escape(_cell(v))}</td>"
                        for v, n in zip(row, numeric, strict=True)
                    )
                    + "</tr>"
                )
            parts.append("</tbody></table>")
        elif b.kind == "img" and b.path is not None:
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            parts.append(f'<p><img alt="{html.escape(b.text)}" src="data:image/png;base64,{data}"></p>')
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- plots


def _plots(out: Path, table: Table, models: list[str]) -> list[_Block]:
    """The plot shown after an analysis's table, if it has one; `models`: the models shown."""
    plot = _PLOTS.get(table.name)
    return [] if plot is None else plot(out, table, models)


def _svit_tasks_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    rows = table.dicts()
    return [
        _Block(
            "img",
            "Records and QA pairs per task",
            path=_plot_bars(
                out / "svit_records_per_task.png",
                "Records and QA pairs per task",
                [r["task"] for r in rows],
                {"records": [r["records"] for r in rows], "QA pairs": [r["qa_pairs"] for r in rows]},
                xlabel="task",
                ylabel="number of records or QA pairs",
            ),
        )
    ]


def _svit_words_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    return [
        _Block(
            "img",
            "Words per question and answer, per task",
            path=_plot_histograms(out / "svit_words_histograms.png", table, ("question words", "answer words")),
        )
    ]


def _svit_boxes_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    if not table.rows:
        return []
    return [
        _Block(
            "img",
            "Boxes per turn",
            path=_plot_histograms(out / "svit_boxes_per_turn.png", table, ("boxes per turn", "boxes per image")),
        )
    ]


def _model_prefixes_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    prefixes = sorted({r["image_prefix"] for r in table.dicts()})
    counts = {(r["model"], r["image_prefix"]): r["records"] for r in table.dicts()}
    return [
        _Block(
            "img",
            "Records by image prefix",
            path=_plot_bars(
                out / "models_image_prefixes.png",
                "Records by image prefix",
                prefixes,
                {m: [counts.get((m, p), 0) for p in prefixes] for m in models},
                xlabel="image prefix",
            ),
        )
    ]


def _model_words_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    return [
        _Block(
            "img",
            "Words per question and answer, per model",
            path=_plot_histograms(
                out / "models_words_histograms.png", _only(table, models), ("question words", "answer words")
            ),
        )
    ]


def _model_image_sizes_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    if not table.rows:
        return []
    return [
        _Block(
            "img",
            "Image sizes and aspect ratios, per model",
            path=_plot_histograms(
                out / "models_image_sizes.png",
                _only(table, models),
                ("image width", "image height", "aspect ratio (width / height)"),
            ),
        )
    ]


def _model_tokens_plot(out: Path, table: Table, models: list[str]) -> list[_Block]:
    """Total and text tokens, a row of panels per model and family/tokenizer that counted it."""
    rows = _only(table, models).dicts()
    if not rows:
        return []
    # The measure names `<what> tokens · <family> · <tokenizer>`: the family goes to the row.
    regrouped = []
    for r in rows:
        what, _, counted_by = r["measure"].partition(" · ")
        regrouped.append(dict(r, scope=f"{r['scope']} · {counted_by}", measure=what))
    columns = list(regrouped[0])
    plotted = Table(table.name, columns, [tuple(r[c] for c in columns) for r in regrouped])
    return [
        _Block(
            "img",
            "Total and text tokens per record, per model and family",
            path=_plot_histograms(out / "models_token_histograms.png", plotted, ("total tokens", "text tokens")),
        )
    ]


_PLOTS: dict[str, Callable[[Path, Table, list[str]], list[_Block]]] = {
    "svit_task_sizes": _svit_tasks_plot,
    "svit_text_lengths": _svit_words_plot,
    "svit_boxes": _svit_boxes_plot,
    "llava_image_prefixes": _model_prefixes_plot,
    "llava_text_lengths": _model_words_plot,
    "llava_token_lengths": _model_tokens_plot,
    "llava_image_sizes": _model_image_sizes_plot,
}


def _plot_bars(
    path: Path,
    title: str,
    labels: list[str],
    series: dict[str, list[float]],
    xlabel: str,
    ylabel: str = "number of records",
) -> Path:
    import matplotlib.pyplot as plt

    fig = bar_figure(title, labels, series, xlabel, ylabel)
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)
    return path


def bar_figure(title: str, labels: list[str], series: dict[str, list[float]], xlabel: str, ylabel: str):
    """Grouped bars: one group per label, one bar per series."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) * max(1, len(series)) ** 0.5), 4))
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(xs, values, width=width, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    return fig


HIST_BINS = 20  # at most this many bins per plotted histogram


def histogram_edges(rows: Sequence[dict[str, Any]]) -> list[float]:
    """One set of bin edges for the distributions in `rows` (dicts with hist_values), so that the
    plots overlaying or stacking them share their bins: from the smallest to the largest value of
    any of them. Integer measures (every value a whole number: words, turns, boxes) get integer
    edges, a bin a whole number of units wide, [k, k + width); other measures `HIST_BINS`
    equal-width bins, the last one closed."""
    values = [float(v) for r in rows for v in (r.get("hist_values") or [])]
    if not values:
        return [0.0, 1.0]
    lo, hi = min(values), max(values)
    if all(v == int(v) for v in values):
        lo, hi = float(int(lo)), float(int(hi))
        width = max(1, -(-int(hi - lo + 1) // HIST_BINS))  # ceil((hi - lo + 1) / HIST_BINS)
        edges = [lo]
        while edges[-1] <= hi:
            edges.append(edges[-1] + width)
        return edges
    if hi == lo:
        return [lo - 0.5, lo + 0.5]
    step = (hi - lo) / HIST_BINS
    return [lo + k * step for k in range(HIST_BINS)] + [hi]


def histogram_counts(row: dict[str, Any], edges: Sequence[float]) -> list[int]:
    """The counts of one distribution (hist_values, hist_value_counts) in the bins `edges`
    (each bin half-open, [e_k, e_k+1), but for the last one, closed)."""
    import bisect

    counts = [0] * (len(edges) - 1)
    for v, n in zip(row.get("hist_values") or [], row.get("hist_value_counts") or [], strict=True):
        k = min(max(bisect.bisect_right(edges, float(v)) - 1, 0), len(counts) - 1)
        counts[k] += int(n)
    return counts


def _plot_histograms(path: Path, table: Table, measures: Sequence[str], overlay: bool = False) -> Path:
    """Write the figure of `histogram_figure` to `path`."""
    import matplotlib.pyplot as plt

    fig = histogram_figure(table, measures, overlay)
    fig.savefig(path, format="png", dpi=80)
    plt.close(fig)
    return path


def histogram_figure(table: Table, measures: Sequence[str], overlay: bool = False):
    """One panel per measure (columns) and scope (rows; or all scopes overlaid), re-binned from the
    value frequencies (hist_values, hist_value_counts) with one set of edges per measure for all
    the scopes (`histogram_edges`)."""
    import matplotlib.pyplot as plt

    rows = table.dicts()
    scopes = list(dict.fromkeys(r["scope"] for r in rows))
    by = {(r["scope"], r["measure"]): r for r in rows}
    n_rows = 1 if overlay else max(1, len(scopes))
    fig, axes = plt.subplots(n_rows, len(measures), figsize=(5 * len(measures), 2.6 * n_rows), squeeze=False)
    for j, measure in enumerate(measures):
        edges = histogram_edges([r for r in rows if r["measure"] == measure])
        widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
        for i, scope in enumerate(scopes):
            ax = axes[0 if overlay else i][j]
            ax.set_xlabel(measure, fontsize=8)
            r = by.get((scope, measure))
            if r is None:
                continue
            counts = histogram_counts(r, edges)
            if overlay:
                total = sum(counts) or 1
                ax.stairs([c / total for c in counts], edges, label=scope)
                ax.set_ylabel("share of records", fontsize=8)
                ax.legend(fontsize=8)
            else:
                ax.bar(edges[:-1], counts, width=widths, align="edge", edgecolor="white")
                ax.set_ylabel(f"number of records\n{scope}", fontsize=8)
            ax.set_title(measure if overlay or i == 0 else "", fontsize=10)
    fig.tight_layout()
    return fig
