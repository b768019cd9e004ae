"""The blocking-call guard (conftest.py `no_blocking`) is on in every async test here,
without asking for it, and catches slaprobe's code blocking the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from blockbuster import BlockBuster, BlockingError
from waits import until

from slaprobe.maintenance import announcements


async def test_on_in_an_async_test_that_does_not_ask(request: Any, tmp_path: Path) -> None:
    assert "no_blocking" in request.fixturenames  # autouse: not asked for, there
    guard = request.getfixturevalue("no_blocking")
    assert isinstance(guard, BlockBuster)
    (tmp_path / "probe.toml").write_text("")
    loop = asyncio.get_running_loop()
    errors: list[BaseException | None] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context.get("exception")))
    try:
        # slaprobe's code on the loop, no frame of this module on the stack
        loop.call_soon(announcements.file_mtime, tmp_path / "probe.toml")
        assert await until(lambda: bool(errors), timeout=5.0)
    finally:
        loop.set_exception_handler(None)
    assert isinstance(errors[0], BlockingError), errors
    assert "os.stat" in str(errors[0])


def test_off_in_a_sync_test(request: Any) -> None:
    assert request.getfixturevalue("no_blocking") is None
