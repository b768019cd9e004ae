"""The import rule (docs/architecture.md), checked on the source, import by import.

Every module of the package is parsed with `ast`; every import of a slaprobe module (top level,
inside a function or under TYPE_CHECKING) is an edge. The rule:

- `core` (pure logic) imports nothing outside `core` (test_core_purity checks the rest of purity);
- each role package imports only the roles below it in `LAYERS`, never one beside or above it;
- only the composition root (`slaprobe.ops.daemon`), the CLI and the demo import from `ops`;
- no import cycle anywhere, between modules or between role packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import slaprobe

PKG = Path(slaprobe.__file__).parent

# Each role may import the roles listed on the lines above its own, and itself.
# "base" is the package root's few shared modules: config, clock, logs (and __init__).
LAYERS: list[set[str]] = [
    {"core"},
    {"base"},
    {"metrics"},
    {"history"},
    {"probe", "maintenance", "incidents"},
    {"reporting"},
    {"evidence"},
    {"web"},
    {"ops"},
    {"demo"},
    {"cli"},
]
BASE = {"__init__", "config", "clock", "logs"}
TOP_LEVEL_MODULES_AT_MOST = 8


def role_of(module: str) -> str:
    """`slaprobe.history.store` -> history; `slaprobe.config` -> base; `slaprobe.cli` -> cli."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    head = parts[1]
    if head in BASE:
        return "base"
    if head == "__main__":
        return "cli"
    return head


def rank(role: str) -> int:
    for i, layer in enumerate(LAYERS):
        if role in layer:
            return i
    raise AssertionError(f"role {role!r} is in no layer of the import rule")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports_of(path: Path, module: str, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, imported slaprobe module) for every import in the module's source."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from slaprobe.x import y` imports the module slaprobe.x.y when there is one.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]
        else:
            continue
        for name in names:
            if name == "slaprobe" or name.startswith("slaprobe."):
                yield node.lineno, name


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {n for _, n in imports_of(p, m, known) if n != m} for m, p in mods.items()}


def violations() -> list[str]:
    out = []
    mods = modules()
    known = set(mods)
    for module, path in mods.items():
        mine = role_of(module)
        for line, name in imports_of(path, module, known):
            theirs = role_of(name)
            if theirs == mine:
                continue
            if mine == "core":
                out.append(f"{module} line {line}: core imports {name}")
            elif rank(theirs) > rank(mine) or (rank(theirs) == rank(mine)):
                out.append(f"{module} line {line}: {mine} may not import {theirs} ({name})")
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_role_is_in_the_rule() -> None:
    roles = {role_of(m) for m in modules()}
    for role in roles:
        rank(role)


def test_the_roles_import_only_downwards() -> None:
    assert violations() == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_no_import_cycle_between_roles() -> None:
    edges: dict[str, set[str]] = {}
    for module, deps in graph().items():
        edges.setdefault(role_of(module), set()).update(
            role_of(d) for d in deps if role_of(d) != role_of(module))
    assert cycles(edges) == []


def test_few_top_level_modules() -> None:
    top = sorted(p.stem for p in PKG.glob("*.py"))
    assert len(top) <= TOP_LEVEL_MODULES_AT_MOST, top


def test_database_drivers_only_in_the_history() -> None:
    found = []
    for module, path in modules().items():
        if role_of(module) == "history":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{module}: {n}" for n in names
                      if n.split(".")[0] in {"sqlite3", "psycopg", "psycopg_pool"}]
    assert found == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_rule_catches_an_upward_import() -> None:
    assert rank(role_of("slaprobe.history.store")) < rank(role_of("slaprobe.web.server"))
    assert rank(role_of("slaprobe.config")) < rank(role_of("slaprobe.metrics.instruments"))
    assert role_of("slaprobe") == "base"
