"""Which event loop `slaprobe run` uses: uvloop's when the extra is installed."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from slaprobe.cli import event_loop_factory


def test_asyncio_on_request() -> None:
    assert event_loop_factory({"SLAPROBE_EVENT_LOOP": "asyncio"}) is None


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None,
                    reason="the optional uvloop extra is not installed")
def test_uvloop_when_installed() -> None:
    factory = event_loop_factory({})
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        loop_type = runner.run(_loop_type())
    assert loop_type.startswith("uvloop")


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is not None,
                    reason="uvloop is installed")
def test_asyncio_without_uvloop() -> None:
    assert event_loop_factory({}) is None


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__
