"""The core does no I/O and reads no clock: checked on its source, import by import.

Every module under `slaprobe/core/` is parsed with `ast`; each import (top level or inside a
function) must be neither an I/O or clock module of the standard library or of the installed
dependencies, nor a module of this package outside the core. Calls that read the wall clock
(`datetime.now()` and friends) and the `open()` builtin are refused as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import slaprobe.core

CORE = Path(slaprobe.core.__file__).parent

# Modules whose import means I/O, the clock, concurrency or process state.
FORBIDDEN = frozenset({
    "aiohttp", "asyncio", "concurrent", "ctypes", "fcntl", "glob", "http", "importlib",
    "logging", "mmap", "multiprocessing", "os", "pathlib", "prometheus_client", "select",
    "selectors", "shutil", "signal", "socket", "socketserver", "sqlite3", "ssl", "structlog",
    "subprocess", "sys", "tempfile", "threading", "time", "urllib.request", "zoneinfo",
})
CLOCK_CALLS = frozenset({"now", "utcnow", "today", "time", "monotonic", "perf_counter"})
# `io` is allowed for in-memory buffers (io.StringIO); its file openers are not.
FILE_CALLS = frozenset({"open", "FileIO", "read_text", "write_text", "read_bytes", "write_bytes"})
FORBIDDEN_BUILTINS = frozenset({"open", "input", "print", "__import__", "breakpoint"})


def _modules_imported(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            yield node.lineno, name
            for alias in node.names:  # `from slaprobe import store` imports slaprobe.history.store
                yield node.lineno, f"{name}.{alias.name}"


def _is_forbidden(name: str) -> bool:
    parts = name.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    if prefixes & FORBIDDEN:
        return True
    if parts[0] == "slaprobe" and len(parts) > 1:
        # Inside the package only the core itself (and the package root's constants) may be used.
        return parts[1] not in {"core", "__version__"}
    return False


def problems(source: str, package: str = "slaprobe.core") -> list[str]:
    """Every impure import or call in one module's source, as `line N: what`."""
    tree = ast.parse(source)
    out: list[str] = []
    seen: set[tuple[int, str]] = set()
    for line, name in _modules_imported(tree, package):
        if _is_forbidden(name) and (line, name.split(".")[0]) not in seen:
            seen.add((line, name.split(".")[0]))
            out.append(f"line {line}: imports {name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
            out.append(f"line {node.lineno}: calls {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
            out.append(f"line {node.lineno}: calls .{func.attr}() (reads a clock)")
        elif isinstance(func, ast.Attribute) and func.attr in FILE_CALLS:
            out.append(f"line {node.lineno}: calls .{func.attr}() (file I/O)")
    return out


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_core_has_the_pure_modules() -> None:
    names = {p.stem for p in core_modules()}
    assert {
        "model", "spec", "intervals", "timeline", "tracker", "slo", "rules", "checks",
        "timefmt", "importer", "feeds",
    } <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import asyncio\n", ["line 1: imports asyncio"]),
        ("import os.path\n", ["line 1: imports os.path"]),
        ("from time import monotonic\n", ["line 1: imports time"]),
        ("from pathlib import Path\n", ["line 1: imports pathlib"]),
        ("from urllib.request import urlopen\n", ["line 1: imports urllib.request"]),
        ("def f():\n    import sqlite3\n", ["line 2: imports sqlite3"]),
        ("from slaprobe.history.store import Store\n", ["line 1: imports slaprobe.history.store"]),
        ("from slaprobe.probe import prober\n", ["line 1: imports slaprobe.probe"]),
        ("from .. import daemon\n", ["line 1: imports slaprobe.daemon"]),
        ("import datetime as dt\nx = dt.datetime.now(dt.UTC)\n",
         ["line 2: calls .now() (reads a clock)"]),
        ("data = open('f').read()\n", ["line 1: calls open()"]),
        ("import io\nf = io.open('f')\n", ["line 2: calls .open() (file I/O)"]),
        ("text = path.read_text()\n", ["line 1: calls .read_text() (file I/O)"]),
    ],
)
def test_the_check_catches(source: str, expected: list[str]) -> None:
    assert problems(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import datetime as dt\nimport json\nfrom urllib.parse import urlsplit\n",
        "from slaprobe.core.model import Check\nfrom . import intervals\n",
        "import icalendar\n",
        "import io\nbuf = io.StringIO()\n",
    ],
)
def test_the_check_allows(source: str) -> None:
    assert problems(source) == []
