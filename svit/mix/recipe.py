"""`svit mix`: build a mix (a published recipe or a user's RECIPE.yml) and write its manifest.

A user recipe becomes the var `mix` of one generic dbt model, `mix_user` (with its per-source
counts, `mix_user_sources`, and its coverage beside the official core set,
`mix_user_coverage`), which dbt writes to a table named by the recipe; see
models/marts/mixes/mix_user.sql. Everything a recipe says is checked here first, against
the warehouse, so a bad recipe builds nothing. A mix's name is bound to its recipe's content
(`recipe_digest`): the same recipe builds again from any file, another one of that name only
with `replace` (`svit mix --replace`). Every mix then gets a manifest
(svit/mix/manifest.py): a JSON file `<warehouse>/mixes/<name>.manifest.json` and a row of
the table `mix_manifests` in svit.duckdb.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from svit.core import settings
from svit.core.dbt import PROJECT_DIR
from svit.core.errors import SvitError
from svit.core.groundings import DEFAULT as DEFAULT_GROUNDING
from svit.core.groundings import GROUNDED_VIEW, GROUNDINGS, Grounding
from svit.core.models_db import COMMAND_TABLES, LLAVA_COLUMNS, built_relations, connect
from svit.core.models_db import MIX_MANIFESTS as MANIFEST_TABLE
from svit.core.tables import TABLES
from svit.core.warehouse import Warehouse
from svit.mix.drops import DROP_KEYS, Drops, parse_drops, resolve_drops

GENERIC_MODELS = ("mix_user", "mix_user_sources", "mix_user_coverage")
# What the generic models read besides the recipe's sources: a warehouse built before they
# existed, or with `svit build --select ...`, is asked to build them first.
GENERIC_PARENTS = ("mix_svit_core_150k", "int_object_phrases", GROUNDED_VIEW)
# Every model the SQL of a user mix may read besides its sources (dbt needs a model's every
# `ref` when it parses it, before the recipe is read: Recipe.as_outline): those parents and
# the staging views that an ingested LLaVA file's records and the drops read
# (macros/recipes/llava_file_records.sql, mix_drops.sql).
GENERIC_REFS = (*GENERIC_PARENTS, "stg_llava__records", "stg_llava__turns", "stg_llava__media")
# Tables each user mix writes beside its own (mix_user_sources, mix_user_coverage).
COMPANION_SUFFIXES = ("__sources", "__coverage")
# Names a mix may not take, though no project model has them: `svit sql` queries the
# warehouse tables by bare name beside the models, so a mix named like a table would hide it
# (`sources`, the ingest's table of sources, is named here too so that it stays reserved
# whether or not TABLES lists it); mix_manifests is written by svit/mix/manifest.py; dbt
# names its staging and intermediate models stg_* and int_*, its seeds after their files,
# and the relations it builds a table through `<model>__dbt_tmp`, `__dbt_backup` and the like.
RESERVED_TABLES = tuple(sorted(set(TABLES) | {"sources"}))
RESERVED_PREFIXES = ("stg_", "int_", "_")
RESERVED_INFIX = "__dbt_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIRST = re.compile(r"^first:\s*(-?\d+)$")
RECIPE_KEYS = {"name", "seed", "shuffle", "description", "grounding", "sources", *DROP_KEYS}
SOURCE_KEYS = {"source", "take", "filter", "select", "yes_no_ratio", "upsample", "repeat", *DROP_KEYS}
SELECTS = ("random", "coverage")

# The columns a filter sees (macros/recipes/mix_sources.sql: the mix columns, then
# mix_filter_columns); a filter is checked against an empty table of them. `svit mix --help`
# and docs/mixes.md describe each (a test holds them to this list).
FILTER_COLUMNS = (
    "id varchar, id_json varchar, has_image boolean, image varchar, extra varchar, "
    'conversations struct("from" varchar, "value" varchar)[], media varchar, task varchar, image_id bigint, '
    "block integer, "
    "source_file varchar, record_index bigint, source_position bigint, image_prefix varchar, n_turns bigint, "
    "n_qa bigint, words bigint, human_words bigint, gpt_words bigint, answers bigint, min_answer_words bigint, "
    "max_answer_words bigint, min_question_words bigint, max_question_words bigint, has_boxes boolean, "
    "yes_no varchar"
)


@dataclass
class Source:
    name: str
    kind: str  # model, relation (a mix built earlier), llava_file
    take: str  # all, first, count, fraction
    n: int | None = None
    fraction: float | None = None
    filter: str | None = None
    select: str = "random"  # the pick order: random (md5 of the seed) or coverage (object phrases first)
    yes_no_ratio: float | None = None  # share of Yes among the records whose first answer is Yes/No
    upsample: bool = False  # copies fill a count above what the filter keeps (else the source runs short)
    repeat: int | None = None  # every record picked, this many times
    grounded: bool = False  # a mix built earlier whose records are in the recipe's grounding already
    drops: Drops = field(default_factory=Drops)  # records left out before the filter (svit/mix/drops.py)

    def as_var(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "take": self.take,
            "n": self.n,
            "fraction": self.fraction,
            "filter": self.filter,
            "select": self.select,
            "yes_no_ratio": self.yes_no_ratio,
            "upsample": self.upsample,
            "repeat": self.repeat,
            "grounded": self.grounded,
            "drops": self.drops.as_var() if self.drops else None,
        }

    def take_text(self) -> str:
        return {"all": "all", "first": f"first:{self.n}", "count": str(self.n)}.get(self.take, str(self.fraction))


@dataclass
class Recipe:
    path: Path
    name: str
    seed: int
    shuffle: bool
    sources: list[Source]
    document: dict = field(default_factory=dict)  # the YAML as read
    replaces: str | None = None  # the recipe file of the mix of this name it replaces (--replace), if any
    grounding: Grounding = GROUNDINGS[DEFAULT_GROUNDING]  # how its referring records write boxes

    @property
    def digest(self) -> str:
        return recipe_digest(self.document)

    def as_var(self) -> dict:
        return {
            "name": self.name,
            "seed": self.seed,
            "shuffle": self.shuffle,
            # int_referring_grounded's column and whether questions keep their instruction
            # (svit/core/groundings.py); no column: the records as the models hold them.
            "grounding": {"column": self.grounding.column, "keep_instruction": self.grounding.keeps_instruction},
            "sources": [s.as_var() for s in self.sources],
        }

    def as_outline(self) -> dict:
        """What dbt must know of the recipe when it parses the mix models: the table's name and
        every model their SQL may `ref` (dbt takes a model's dependencies from its parse only)."""
        models = {s.name for s in self.sources if s.kind == "model"} | set(GENERIC_REFS)
        return {"name": self.name, "models": sorted(models)}

    def dbt_environment(self) -> dict[str, str]:
        """The recipe as the environment variables dbt reads it from (svit/core/settings.py)."""
        return {
            settings.MIX_OUTLINE_VAR: json.dumps(self.as_outline()),
            settings.MIX_RECIPE_VAR: json.dumps(self.as_var()),
        }


# --------------------------------------------------------------------------- the warehouse


def project_models() -> set[str]:
    """Names of the project's dbt models (file stems under models/)."""
    return {p.stem for p in (PROJECT_DIR / "models").rglob("*.sql")}


def internal_relations() -> list[str]:
    """Relations svit and dbt write into svit.duckdb that are neither user mixes nor project models."""
    return sorted(set(COMMAND_TABLES) | {p.stem for p in (PROJECT_DIR / "seeds").glob("*.csv")})


def reserved_name(name: str) -> bool:
    return (
        name in RESERVED_TABLES
        or name in internal_relations()
        or name.startswith(RESERVED_PREFIXES)
        or RESERVED_INFIX in name
    )


def recipe_digest(document: Any) -> str:
    """What binds a mix name to its recipe: sha256 of the recipe's content, its keys and values as
    YAML reads them (comments, spacing, key order and the file's place aside), as canonical JSON."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _user_manifests(warehouse: Warehouse, columns: str, parameters: tuple = ()) -> list[tuple]:
    """`columns` (SQL over mix_manifests) of every user mix built before; none without a manifest table."""
    if not warehouse.duckdb_path.is_file():
        return []
    con = connect(warehouse, read_only=True)
    try:
        if not con.execute("select 1 from duckdb_tables() where table_name = ?", [MANIFEST_TABLE]).fetchall():
            return []
        return con.execute(f"select {columns} from {MANIFEST_TABLE} where kind = 'user'", list(parameters)).fetchall()
    finally:
        con.close()


def built_mixes(warehouse: Warehouse) -> dict[str, tuple[str | None, str]]:
    """User mixes built before: name -> (the recipe file last built from, the recipe's digest)."""
    rows = _user_manifests(warehouse, "mix, recipe_file, manifest->'recipe'")
    # The digest of the recipe the manifest holds (manifests written before the digest existed too).
    return {mix: (recipe_file, recipe_digest(json.loads(recipe or "null"))) for mix, recipe_file, recipe in rows}


# --------------------------------------------------------------------------- recipes


class _Located:
    """The recipe's YAML nodes, so every error can name the line it is about."""

    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SvitError(f"{path}: cannot read the recipe ({exc.strerror})") from exc
        self.loader = yaml.SafeLoader(text)
        try:
            self.root = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise SvitError(f"{path}{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from exc

    def error(self, node: yaml.Node | None, message: str) -> SvitError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return SvitError(f"{self.path}{line}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node | None, what: str, allowed: set[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping of keys to values")
        out = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if key not in allowed:
                raise self.error(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")
            if key in out:
                raise self.error(key_node, f"key {key!r} given twice in {what}")
            out[key] = (key_node, value_node)
        return out


def load_recipe(path: Path, warehouse: Warehouse, replace: bool = False) -> Recipe:
    """Read and check RECIPE.yml against the warehouse; SvitError naming the file and line.
    A mix of the recipe's name built from other content is refused unless `replace`."""
    doc = _Located(path)
    top = doc.mapping(doc.root, "the recipe", RECIPE_KEYS)
    if "name" not in top:
        raise doc.error(doc.root, "the recipe has no `name`")
    if "sources" not in top:
        raise doc.error(doc.root, "the recipe has no `sources`")
    name_node = top["name"][1]
    name = doc.value(name_node)
    # As the manifest stores it (JSON: a YAML date becomes its text), so digests compare alike.
    document = json.loads(json.dumps(doc.value(doc.root), ensure_ascii=False, default=str))
    if isinstance(name, str) and name.startswith("_"):  # the pattern refuses it too, without saying why
        _check_name_free(doc, name_node, name, document, warehouse, replace)
    if not isinstance(name, str) or not _NAME.match(name):
        raise doc.error(
            name_node, f"mix name {name!r} must be lower-case letters, digits and _, starting with a letter"
        )
    replaces = _check_name_free(doc, name_node, name, document, warehouse, replace)
    seed = 0
    if "seed" in top:
        seed = doc.value(top["seed"][1])
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise doc.error(top["seed"][1], f"seed must be an integer, not {seed!r}")
    shuffle = False
    if "shuffle" in top:
        shuffle = doc.value(top["shuffle"][1])
        if not isinstance(shuffle, bool):
            raise doc.error(top["shuffle"][1], f"shuffle must be true or false, not {shuffle!r}")
    grounding = GROUNDINGS[DEFAULT_GROUNDING]
    if "grounding" in top:
        value = doc.value(top["grounding"][1])
        if not isinstance(value, str) or value not in GROUNDINGS:
            raise doc.error(top["grounding"][1], f"unknown grounding {value!r}; choose one of {', '.join(GROUNDINGS)}")
        grounding = GROUNDINGS[value]
    sources_node = top["sources"][1]
    if not isinstance(sources_node, yaml.SequenceNode) or not sources_node.value:
        raise doc.error(sources_node, "sources must be a non-empty list")
    known = _known_sources(warehouse)
    drops = parse_drops(doc, top)
    sources = [_source(doc, node, known, name, drops) for node in sources_node.value]
    _check_groundings(doc, sources_node.value, sources, grounding, mix_groundings(warehouse))
    _check_drops(doc, warehouse, sources_node.value, sources)
    return Recipe(path, name, seed, shuffle, sources, document, replaces, grounding)


def _check_groundings(doc: _Located, nodes, sources: list[Source], grounding: Grounding, built: dict) -> None:
    """A mix built earlier in another grounding than the published one can only go into a mix of
    the same grounding (its records are kept as they are); rewriting its boxes again would
    need the published text, which it no longer holds."""
    for node, source in zip(nodes, sources, strict=True):
        held = built.get(source.name, DEFAULT_GROUNDING) if source.kind == "relation" else DEFAULT_GROUNDING
        if held == DEFAULT_GROUNDING:
            continue
        if held != grounding.name:
            raise doc.error(
                node,
                f"the mix {source.name!r} holds grounding {held}, this recipe asks for {grounding.name}; "
                f"take it into a recipe with grounding: {held}, or rebuild it with grounding: svit",
            )
        source.grounded = True


def _check_drops(doc: _Located, warehouse: Warehouse, nodes, sources: list[Source]) -> None:
    """The drops of every source against the counts and checks they read (svit/mix/drops.py)."""
    if not any(source.drops for source in sources):
        return
    con = connect(warehouse, read_only=True)
    try:
        for node, source in zip(nodes, sources, strict=True):
            problem = resolve_drops(con, source.name, source.kind, source.drops)
            if problem:
                raise doc.error(node, problem)
    finally:
        con.close()


def mix_groundings(warehouse: Warehouse) -> dict[str, str]:
    """The grounding each user mix was built in, from its manifest (svit when it names none)."""
    return dict(_user_manifests(warehouse, "mix, coalesce(manifest->>'$.grounding.name', ?)", (DEFAULT_GROUNDING,)))


def _check_name_free(doc: _Located, node, name: str, document: Any, warehouse: Warehouse, replace: bool) -> str | None:
    """Refuse a name a model, a table or a file has, or a user mix built from other content
    (unless `replace`: then the recipe file of the mix it replaces, for the output)."""
    if name in project_models() or name.endswith(COMPANION_SUFFIXES):
        raise doc.error(node, f"mix name {name!r} is taken by a model of the project; choose another")
    if reserved_name(name):
        raise doc.error(
            node,
            f"mix name {name!r} is reserved; choose another (reserved: the tables "
            f"{', '.join(RESERVED_TABLES)}; {', '.join(internal_relations())}; names starting "
            f"with {', '.join(RESERVED_PREFIXES)} or holding {RESERVED_INFIX})",
        )
    if name in set(warehouse.llava_models()):
        raise doc.error(node, f"mix name {name!r} is taken by an ingested LLaVA file; choose another")
    earlier = built_mixes(warehouse).get(name)
    if earlier is None or earlier[1] == recipe_digest(document):
        return None  # a new name, or the same recipe (from this file or a copy): built again
    if replace:
        return earlier[0] or name
    if earlier[0] and Path(earlier[0]).resolve() == doc.path.resolve():
        raise doc.error(
            node,
            f"the mix {name!r} was built from this file when it read differently; add --replace to rebuild it "
            "from the recipe as it reads now, or choose another name",
        )
    raise doc.error(
        node,
        f"mix name {name!r} is taken by a mix built from another recipe ({earlier[0]}); add --replace to "
        "rebuild it from this one, or choose another name",
    )


def _known_sources(warehouse: Warehouse) -> dict[str, str]:
    """Every name a recipe may use -> its kind. Project models must be built and LLaVA-shaped."""
    relations = built_relations(warehouse)
    models = project_models()
    known = {f: "llava_file" for f in set(warehouse.llava_models())}
    for name, columns in relations.items():
        if LLAVA_COLUMNS <= columns:
            known[name] = "model" if name in models else "relation"
    return known


def _source(doc: _Located, node, known: dict[str, str], mix_name: str, drops: Drops) -> Source:
    entry = doc.mapping(node, "a source", SOURCE_KEYS)
    if "source" not in entry:
        raise doc.error(node, "a source needs `source:` (a model, a mix or an ingested LLaVA file)")
    name_node = entry["source"][1]
    name = doc.value(name_node)
    if not isinstance(name, str) or name not in known:
        if name == mix_name:
            raise doc.error(name_node, f"the mix {name!r} cannot take from itself")
        choices = ", ".join(sorted(known)) or "none: run `svit build` first"
        raise doc.error(name_node, f"unknown source {name!r}; sources: {choices}")
    if name == mix_name:
        raise doc.error(name_node, f"the mix {name!r} cannot take from itself")
    source = Source(name, known[name], "all", drops=parse_drops(doc, entry, drops))
    if "take" in entry:
        _take(doc, entry["take"][1], source)
    if "select" in entry:
        _select(doc, entry["select"][1], source)
    if "yes_no_ratio" in entry:
        ratio_node = entry["yes_no_ratio"][1]
        ratio = doc.value(ratio_node)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise doc.error(
                ratio_node,
                f"yes_no_ratio must be a number within 0..1 (the share of Yes among the "
                f"records whose first answer is Yes or No), not {ratio!r}",
            )
        source.yes_no_ratio = float(ratio)
    if "upsample" in entry:
        _upsample(doc, entry, source)
    if "repeat" in entry:
        _repeat(doc, entry, source)
    if "filter" in entry:
        filter_node = entry["filter"][1]
        text = doc.value(filter_node)
        if not isinstance(text, str) or not text.strip():
            raise doc.error(filter_node, "filter must be a SQL predicate (text)")
        problem = check_filter(text)
        if problem:
            raise doc.error(filter_node, f"filter {text!r} does not parse: {problem}")
        source.filter = text.strip()
    return source


def _take(doc: _Located, node, source: Source) -> None:
    take = doc.value(node)
    if take == "all":
        return
    if isinstance(take, bool):
        raise doc.error(node, f"take must be all, a count, a fraction 0..1 or first:N, not {take!r}")
    if isinstance(take, int):
        if take < 0:
            raise doc.error(node, f"take must not be negative: {take}")
        source.take, source.n = "count", take
        return
    if isinstance(take, float):
        if not 0.0 <= take <= 1.0:
            raise doc.error(node, f"a fraction must lie within 0..1, not {take}; write a count as a whole number")
        source.take, source.fraction = "fraction", take
        return
    match = _FIRST.match(take.strip()) if isinstance(take, str) else None
    if match:
        n = int(match.group(1))
        if n < 0:
            raise doc.error(node, f"first:N must not be negative: {take}")
        source.take, source.n = "first", n
        return
    raise doc.error(node, f"take must be all, a count, a fraction 0..1 or first:N, not {take!r}")


def _upsample(doc: _Located, entry: dict, source: Source) -> None:
    node = entry["upsample"][1]
    upsample = doc.value(node)
    if not isinstance(upsample, bool):
        raise doc.error(node, f"upsample must be true or false, not {upsample!r}")
    if not upsample:
        return
    if "repeat" in entry:
        raise doc.error(node, "give upsample: true (copies up to the count) or repeat: k (k copies), not both")
    if source.yes_no_ratio is not None:
        raise doc.error(node, "a source with yes_no_ratio never repeats records: drop upsample: true")
    if source.take != "count":
        raise doc.error(
            node,
            f"upsample: true repeats records up to a count, and take is {source.take_text()}, which never asks "
            "for more than the filter keeps; write take as a count, or use repeat: k",
        )
    source.upsample = True


def _repeat(doc: _Located, entry: dict, source: Source) -> None:
    node = entry["repeat"][1]
    repeat = doc.value(node)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise doc.error(node, f"repeat must be a whole number >= 1 (copies of every record picked), not {repeat!r}")
    if source.yes_no_ratio is not None:
        raise doc.error(node, "a source with yes_no_ratio never repeats records: drop repeat")
    source.repeat = repeat


def _select(doc: _Located, node, source: Source) -> None:
    select = doc.value(node)
    if select not in SELECTS:
        raise doc.error(node, f"select must be {' or '.join(SELECTS)}, not {select!r}")
    if select == "coverage" and source.take in ("all", "first"):
        raise doc.error(
            node,
            f"select: coverage orders the records it picks, so take must be a count or a "
            f"fraction, not {source.take_text()}",
        )
    source.select = select


def check_filter(text: str) -> str | None:
    """Why `text` is not a predicate over the filter columns (DuckDB's parser, then binder), or None."""
    sql = f"select * from mix_filter_check where ({text})"
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        return str(exc).strip().splitlines()[0]
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        return "it must be one predicate, not several statements"
    con = duckdb.connect()
    try:
        con.execute(f"create table mix_filter_check ({FILTER_COLUMNS})")
        con.execute(sql + " limit 0")
    except duckdb.Error as exc:
        return str(exc).strip().splitlines()[0]
    finally:
        con.close()
    return None
