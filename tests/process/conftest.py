"""Fixtures that run the real `slaprobe` program against local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from procs import Daemon, Switch, switch_target


@pytest.fixture(name="target")
async def _target() -> AsyncIterator[tuple[str, Switch]]:
    async with switch_target() as target:
        yield target


@pytest.fixture(name="daemons")
def _daemons() -> Iterator[Callable[[Path, int], Daemon]]:
    made: list[Daemon] = []

    def make(config: Path, port: int) -> Daemon:
        d = Daemon(config, port)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()
