"""Which event loop `slaprobe run` uses: uvloop's (a dependency on Linux) unless asked
not to or absent."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from slaprobe.cli import event_loop_factory


def test_asyncio_on_request() -> None:
    assert event_loop_factory({"SLAPROBE_EVENT_LOOP": "asyncio"}) is None


def test_uvloop_by_default_on_linux() -> None:
    """`pip install .` brings uvloop on Linux (pyproject's marker), and it is used."""
    if not sys.platform.startswith("linux"):
        pytest.skip("uvloop is a dependency where it builds; checked on Linux")
    assert importlib.util.find_spec("uvloop") is not None, "pip install . did not bring uvloop"
    factory = event_loop_factory({})
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        loop_type = runner.run(_loop_type())
    assert loop_type.startswith("uvloop")


def test_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop: asyncio's own loop. uvloop is made unimportable here (a None in
    sys.modules makes `import uvloop` raise ImportError), so this runs where it is installed
    too, as in CI."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert event_loop_factory({}) is None
    with asyncio.Runner(loop_factory=event_loop_factory({})) as runner:
        assert runner.run(_loop_type()).startswith("asyncio")


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__
