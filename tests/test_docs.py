"""The manual: every command is documented, README.md stays short, links resolve, nothing cites
files outside the repo."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from svit.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
COMMANDS = sorted(cli.commands)

# [text](target) not preceded by `!` or inside code; the target stops at whitespace or `)`.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _sh_lines(markdown: str) -> list[str]:
    """The lines of every ```sh block, stripped."""
    lines: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, re.S | re.M):
        lines.extend(line.strip() for line in block.splitlines())
    return lines


def _readme_command_list() -> str:
    """The README's `## Commands` section."""
    text = README.read_text()
    match = re.search(r"^## Commands\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README.md has no '## Commands' section"
    return match.group(1)


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_there_are_commands_to_check():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_a_section_and_a_sh_example_in_cli_md(name):
    text = (DOCS / "cli.md").read_text()
    assert re.search(rf"^## svit {re.escape(name)}$", text, re.M), f"docs/cli.md has no '## svit {name}' section"
    examples = [line for line in _sh_lines(text) if re.match(rf"svit {re.escape(name)}(\s|$)", line)]
    assert examples, f"docs/cli.md has no ```sh example line starting 'svit {name}'"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_the_readme_command_list(name):
    listed = [line.split()[1] for line in _readme_command_list().splitlines() if line.startswith("svit ")]
    assert name in listed, f"README.md's command list lacks 'svit {name}'"


def test_readme_is_under_300_lines():
    lines = len(README.read_text().splitlines())
    assert lines < 300, f"README.md has {lines} lines"


def _relative_links(path: Path) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text()))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # URLs, mailto:, links within the page
        targets.append(target)
    return targets


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    text = FENCE.sub("", path.read_text())
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(page):
    broken = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = page.parent / file_part
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files or headings: {broken}"


def test_link_finder_sees_links():
    """A guard for the test above: the README links to the docs pages."""
    assert "docs/cli.md" in _relative_links(README)


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = []
    for name in names.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file():
            files.append(path)
    return files


def test_no_tracked_file_cites_files_outside_the_repository():
    # Spelled in pieces so that this file does not cite them itself.
    forbidden = ("DESIGN" + ".md", "SVIT_FORMAT" + ".md", "../" + "shared")
    offenders = []
    for path in _tracked_text_files():
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        found = [word for word in forbidden if word in text]
        if found:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(found)}")
    assert not offenders, "files citing what is not in the repository:\n" + "\n".join(offenders)
