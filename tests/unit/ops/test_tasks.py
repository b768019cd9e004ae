"""Spawned tasks are held while they run and dropped when done."""

from __future__ import annotations

import asyncio

from slaprobe.ops.tasks import TaskSet


async def test_finished_tasks_are_dropped_and_running_ones_cancelled() -> None:
    tasks = TaskSet()
    gate = asyncio.Event()

    async def short() -> None:
        await gate.wait()

    async def forever() -> None:
        await asyncio.Event().wait()

    for i in range(5):
        tasks.spawn(short(), f"reload-{i}")
    loop_task = tasks.spawn(forever(), "loop")
    assert len(tasks) == 6
    gate.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(tasks) == 1
    await tasks.cancel_all()
    assert loop_task.cancelled() and len(tasks) == 0
