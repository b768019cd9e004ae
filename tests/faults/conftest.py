"""Fault suite: real processes, real sockets on 127.0.0.1, each bounded in time.

Reuses the process helpers (`procs`) and the scripted fault server (`faultserver`).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for sub in ("process", "integration"):
    path = str(HERE.parent / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

# fixtures shared with the other suites (imported after the path set-up above)
from collections.abc import AsyncIterator  # noqa: E402

import pytest  # noqa: E402
from faultserver import FaultServer, serve  # noqa: E402
from procs import Switch, switch_target  # noqa: E402


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """The scripted fault app over plain HTTP on 127.0.0.1."""
    async with serve() as server:
        yield server


@pytest.fixture(name="target")
async def _target() -> AsyncIterator[tuple[str, Switch]]:
    """A local target whose health the test flips."""
    async with switch_target() as target:
        yield target
