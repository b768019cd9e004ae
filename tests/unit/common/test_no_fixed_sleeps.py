"""No test waits on the clock: no fixed sleep of a second or more inside a test function.

A fixed sleep is either too short on a loaded machine (a flaky test) or too long
everywhere else (a slow one). A test waits for the condition it needs instead, bounded
(tests/integration/waits.py `until`, procs.Daemon.wait_until), or moves a FakeClock.
This reads every test module with `ast` and fails on `asyncio.sleep(x)`, `time.sleep(x)`
or a bare `sleep(x)` inside a `test_*` function (nested functions and lambdas included)
whose `x` is known to be 1 s or more: a literal, a name bound to one (in the function or
the module), or arithmetic and max() over those.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
LIMIT = 1.0
SLEEPERS = {("asyncio", "sleep"), ("time", "sleep"), ("anyio", "sleep"), ("trio", "sleep")}


def _numbers(scope: ast.AST) -> dict[str, ast.expr]:
    """Names bound once by a plain assignment in `scope` (not descending into functions)."""
    bound: dict[str, ast.expr] = {}
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            bound[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.value is not None:
            bound[node.target.id] = node.value
        todo.extend(ast.iter_child_nodes(node))
    return bound


def at_least(expr: ast.expr, names: list[dict[str, ast.expr]], depth: int = 0) -> float | None:
    """A lower bound of `expr`'s value where the source makes one certain, else None."""
    if depth > 10:
        return None
    match expr:
        case ast.Constant(value=bool()):
            return None
        case ast.Constant(value=int() | float() as v):
            return float(v)
        case ast.Name(id=name):
            for scope in names:
                if name in scope:
                    return at_least(scope[name], names, depth + 1)
            return None
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            v = at_least(operand, names, depth + 1)
            return None if v is None else -v if isinstance(operand, ast.Constant) else None
        case ast.BinOp(left=left, op=op, right=right):
            a, b = at_least(left, names, depth + 1), at_least(right, names, depth + 1)
            if a is None or b is None:
                return None
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Mult) and a >= 0 and b >= 0:
                return a * b
            return None
        case ast.Call(func=ast.Name(id="max"), args=args) if args:
            known = [v for v in (at_least(a, names, depth + 1) for a in args) if v is not None]
            return max(known) if known else None
        case ast.Call(func=ast.Name(id="float" | "int"), args=[arg]):
            return at_least(arg, names, depth + 1)
    return None


def _is_sleep(call: ast.Call, sleep_imported: bool) -> bool:
    match call.func:
        case ast.Attribute(value=ast.Name(id=module), attr=attr):
            return (module, attr) in SLEEPERS
        case ast.Name(id="sleep"):
            return sleep_imported
    return False


def fixed_sleeps(source: str, filename: str = "<test>") -> list[str]:
    """`file:line: call` for each sleep of LIMIT or more inside a test function."""
    tree = ast.parse(source, filename)
    module_names = _numbers(tree)
    sleep_imported = any(
        isinstance(n, ast.ImportFrom) and n.module in {"asyncio", "time", "anyio", "trio"}
        and any(a.name == "sleep" and a.asname is None for a in n.names)
        for n in ast.walk(tree))
    found = []
    tests = [n for n in ast.walk(tree)
             if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
             and n.name.startswith("test")]
    seen: set[int] = set()
    for test in tests:
        scopes = [_numbers(test), module_names]
        for node in ast.walk(test):
            if not isinstance(node, ast.Call) or id(node) in seen \
                    or not _is_sleep(node, sleep_imported) or not node.args:
                continue
            seen.add(id(node))
            bound = at_least(node.args[0], scopes)
            if bound is not None and bound >= LIMIT:
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)} in {test.name}")
    return found


def test_no_test_function_sleeps_a_second_or_more() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        found += fixed_sleeps(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS)))
    assert found == [], "fixed sleeps of 1 s or more in tests (wait for the condition):\n" \
        + "\n".join(found)


@pytest.mark.parametrize("source", [
    "import asyncio\nasync def test_a():\n    await asyncio.sleep(1)\n",
    "import asyncio\nasync def test_a():\n    await asyncio.sleep(2.5)\n",
    "import time\ndef test_a():\n    time.sleep(1.0)\n",
    "from asyncio import sleep\nasync def test_a():\n    await sleep(3)\n",
    "import asyncio\nWAIT = 5\nasync def test_a():\n    await asyncio.sleep(WAIT)\n",
    "import asyncio\nasync def test_a():\n    pause = 1.5\n    await asyncio.sleep(pause)\n",
    "import asyncio, time\nasync def test_a():\n"
    "    await asyncio.sleep(max(5.0, 13 - time.time()))\n",
    "import asyncio\nasync def test_a():\n    async def later():\n"
    "        await asyncio.sleep(30)\n    await later()\n",
    "import asyncio\nclass TestX:\n    async def test_a(self):\n"
    "        await asyncio.sleep(0.5 * 4)\n",
], ids=["int", "float", "time", "bare", "constant", "local", "max", "nested", "method"])
def test_the_scan_finds_fixed_sleeps(source: str) -> None:
    assert len(fixed_sleeps(source)) == 1, source


@pytest.mark.parametrize("source", [
    "import asyncio\nasync def test_a():\n    await asyncio.sleep(0.2)\n",
    "import asyncio\nasync def test_a():\n    await asyncio.sleep(0)\n",
    "import asyncio\nasync def test_a(clock):\n    await clock.sleep(60)\n",  # a FakeClock
    "import asyncio\nasync def helper():\n    await asyncio.sleep(5)\n",  # not a test
    "import asyncio\nasync def test_a(every):\n    await asyncio.sleep(every)\n",
    "import asyncio\nasync def test_a():\n    await asyncio.sleep(max(0.0, 1 - 2))\n",
], ids=["short", "zero", "fake-clock", "helper", "unknown", "max-of-unknown"])
def test_the_scan_lets_short_and_fake_waits_be(source: str) -> None:
    assert fixed_sleeps(source) == [], source
