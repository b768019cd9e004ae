"""The control judge: were the probe's own network paths down when a target failed?

Controls are probed on their own schedule; their latest results are kept on the
monotonic clock. When a target's check fails, `all_failed` answers from results no
older than the target's interval, and probes the controls that have none right now,
within what is left of the failed check's budget. A failure counts as probe_network
only if every control failed; when none succeeded but one could not be judged
(slaprobe's own failure), the answer is None: neither down nor excused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from slaprobe.clock import Clock
from slaprobe.core.spec import ProbeSpec

# (spec, budget) -> ok, failed, or None when slaprobe could not judge the control
Probe = Callable[[ProbeSpec, float | None], Awaitable[bool | None]]


class ControlJudge:
    def __init__(self, clock: Clock, probe: Probe) -> None:
        self.clock = clock
        self._probe = probe
        self.results: dict[str, tuple[float, bool | None]] = {}  # name -> (monotonic, ok)

    async def probe(self, spec: ProbeSpec, budget: float | None = None) -> bool | None:
        """Probe one control now and keep its result."""
        ok = await self._probe(spec, budget)
        self.results[spec.name] = (self.clock.monotonic(), ok)
        return ok

    async def all_failed(
        self, controls: Sequence[ProbeSpec], *, max_age: float, budget: float,
    ) -> bool | None:
        """Whether every control failed: results no older than `max_age`, else the
        controls probed right now (within `budget` seconds). None: none succeeded but
        one could not be judged."""
        now = self.clock.monotonic()
        fresh = {n: ok for n, (t, ok) in self.results.items() if now - t <= max_age}
        missing = [c for c in controls if c.name not in fresh]
        if missing:
            results = await asyncio.gather(*(self.probe(c, budget) for c in missing))
            fresh.update({c.name: ok for c, ok in zip(missing, results, strict=True)})
        seen = [fresh.get(c.name, False) for c in controls]
        if any(seen):
            return False
        return None if None in seen else True

    def forget(self) -> None:
        """Drop every kept result (the set of controls changed)."""
        self.results.clear()
