"""Background tasks that are kept while they run and dropped when done."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskSet:
    """Spawned tasks, each held only until it finishes (a SIGHUP's reload, a loop)."""

    def __init__(self) -> None:
        self._live: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._live.add(task)
        task.add_done_callback(self._live.discard)
        return task

    def __len__(self) -> int:
        return len(self._live)

    async def cancel_all(self) -> None:
        tasks = list(self._live)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
