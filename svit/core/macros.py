"""The project's dbt macros outside dbt: Jinja text rendered with the macros it calls.

`svit stats` renders the analyses this way and `svit mix` its manifest's word counts, so both
count as the models do without dbt's start-up. The macros a text gets are those of the
top-level macros/*.sql files that define a macro it calls, directly or through another macro
(the subfolders, macros/recipes/, hold the dbt models' own).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes

from svit.core.dbt import PROJECT_DIR
from svit.core.errors import SvitError

MACROS_DIR = PROJECT_DIR / "macros"


def render_with_macros(source: str, names: dict[str, Any] | None = None) -> str:
    """`source` (Jinja + SQL) rendered with the macros it calls; `names` adds ref(), var(), values and the like."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    context = dict(env.globals)
    context.update(names or {})
    # The modules share `context`, so a macro finds one from another file whatever order they load in.
    for macro_file in macro_files_for(source):
        module = env.from_string(macro_file.read_text()).make_module(context, shared=True)
        context.update({m: getattr(module, m) for m in dir(module) if not m.startswith("_")})
    return env.from_string(source).render(**context)


def macro_files_for(source: str) -> list[Path]:
    """The top-level macros/*.sql files defining a macro `source` calls, directly or through them."""
    defined = _macro_definitions()
    wanted = set(_scan(source)[1])
    files: dict[Path, None] = {}
    while wanted:
        path = defined.get(wanted.pop())
        if path is not None and path not in files:
            files[path] = None
            wanted |= _scan(path.read_text())[1]
    return sorted(files)


def _macro_definitions() -> dict[str, Path]:
    """Macro name -> the top-level macros/*.sql file defining it (dbt refuses a name defined twice; so does this)."""
    defined: dict[str, Path] = {}
    for path in sorted(MACROS_DIR.glob("*.sql")):
        for name in _scan(path.read_text())[0]:
            if name in defined:
                raise SvitError(f"macro {name} is defined in both {defined[name]} and {path}")
            defined[name] = path
    return defined


@functools.cache
def _scan(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The macros a Jinja text defines, and the names it calls as functions (`{{ word_count(text) }}`);
    cached by text, as every analysis of a run reads the same macro files."""
    template = jinja2.Environment().parse(text)
    defined = frozenset(macro.name for macro in template.find_all(nodes.Macro))
    called = frozenset(call.node.name for call in template.find_all(nodes.Call) if isinstance(call.node, nodes.Name))
    return defined, called
