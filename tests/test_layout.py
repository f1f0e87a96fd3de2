"""The code's layering, read from its import statements: the core shares, stages use only the
core, only the CLI puts stages together, and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("svit", "ingest", "synth")
# The CLI layer: the only modules that import stages.
CLI = {"svit.cli", "svit.demo", "svit.workflows"}
# What synth may use of the product: the published facts (and BAAI's published procedure).
PUBLISHED = {"svit.core.facts", "svit.core.baai_procedure"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "sample_corpus" not in path.parts:
                found[module_name(path)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The product modules `path` imports, anywhere in it (functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from svit.core import snapshots` imports the module svit.core.snapshots
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) for name, path in found.items()}


def layer(name: str) -> str:
    if name == "svit" or name in CLI:
        return "cli"
    if name.startswith("svit.core"):
        return "core"
    if name.startswith("synth"):
        return "synth"
    return "stage"


def stage_of(name: str) -> str:
    """The stage a module belongs to: its package under svit/, or ingest."""
    parts = name.split(".")
    return parts[0] if parts[0] != "svit" else ".".join(parts[:2])


def test_no_import_cycles():
    edges = graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_core_imports_only_the_core():
    wrong = {
        m: sorted(i for i in deps if layer(i) != "core" and i != "svit")
        for m, deps in graph().items()
        if layer(m) == "core"
    }
    assert {m: d for m, d in wrong.items() if d} == {}


def test_stages_import_only_the_core_and_themselves():
    wrong = {}
    for m, deps in graph().items():
        if layer(m) != "stage":
            continue
        bad = sorted(i for i in deps if i != "svit" and layer(i) != "core" and stage_of(i) != stage_of(m))
        if bad:
            wrong[m] = bad
    assert wrong == {}


def test_synth_imports_only_the_published_facts():
    wrong = {
        m: sorted(i for i in deps if layer(i) != "synth" and i not in PUBLISHED)
        for m, deps in graph().items()
        if layer(m) == "synth"
    }
    assert {m: d for m, d in wrong.items() if d} == {}


def test_the_checker_sees_imports():
    """A guard on the guard: the graph holds the edges it must."""
    edges = graph()
    assert (
        "svit.core.warehouse" in edges["svit.cli"]
        or "svit.core.warehouse" in edges["svit.core.snapshots"]
        or any("svit.core" in d for d in edges["svit.cli"])
    )
    assert "ingest.pipeline" in edges["svit.cli"]  # a function-level import counts
    assert "svit.core.snapshots" in edges["ingest.pipeline"]  # `from svit.core import snapshots`
