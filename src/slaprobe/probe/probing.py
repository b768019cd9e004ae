"""Probing: one target's scheduled check, its controls, and the outcome recorded.

A check (retries included) may take at most CHECK_BUDGET of its interval, so
consecutive checks always touch. A failed check asks the control judge whether the
probe's own network was down (probe_network); a failure on slaprobe's own side, or a
control it could not judge, makes the outcome unknown, never down.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from slaprobe.clock import Clock
from slaprobe.core.history.degraded import DEGRADED
from slaprobe.core.model import Attempt, Check, ErrorKind
from slaprobe.core.spec import Config, ProbeSpec
from slaprobe.history.recorder import Recorder
from slaprobe.metrics.instruments import Instruments
from slaprobe.probe import prober
from slaprobe.probe.controls import ControlJudge

CHECK_BUDGET = 0.9  # share of its interval a check may take, retries included


class Probing:
    def __init__(self, clock: Clock, recorder: Recorder, instruments: Instruments,
                 controls: Sequence[ProbeSpec], *,
                 watch: prober.LoopWatch | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.watch = watch
        self.session = session  # a prober.probe_session() for https:// (fresh connections)
        self.clock = clock
        self.recorder = recorder
        self.instruments = instruments
        self.controls = controls  # the configured controls (see `reconfigure`)
        self.judge = ControlJudge(clock, self._probe_control)

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config's controls: the results kept of the old ones are dropped."""
        self.controls = cfg.controls
        self.judge.forget()

    def _observe(self, name: str, a: Attempt) -> None:
        result = "success" if a.ok else str(ErrorKind.PROBE_ERROR if a.unknown else a.error)
        self.instruments.probe.observe(name, result, a.latency)
        if a.cert is not None:
            self.instruments.probe.cert(name, a.cert)

    async def _probe_control(self, spec: ProbeSpec, budget: float | None) -> bool | None:
        """A control's result: ok, failed, or None when slaprobe could not judge it."""
        last = prober.verdict(await prober.check(spec, budget=budget, clock=self.clock,
                                                 watch=self.watch, session=self.session))
        return None if last.unknown else last.ok

    async def probe_target(self, spec: ProbeSpec) -> None:
        at, started = self.clock.now(), self.clock.monotonic()
        try:
            check, detail = await self._check_target(spec, at, started)
        except Exception as e:  # slaprobe's own failure: the outcome is unknown, never down
            kind, detail = prober.own_failure(e)
            self._observe(spec.name, Attempt(ok=False, latency=0.0, error=kind, detail=detail))
            check = Check(target=spec.name, at=at, ok=False, interval=spec.interval,
                          error=str(kind), unknown=True)
        self.recorder.record(check, detail=detail)

    async def _check_target(self, spec: ProbeSpec, at: float, started: float,
                            ) -> tuple[Check, str]:
        budget = CHECK_BUDGET * spec.interval
        attempts = await prober.check(spec, on_attempt=lambda a: self._observe(spec.name, a),
                                      budget=budget, clock=self.clock, watch=self.watch,
                                      session=self.session)
        last = prober.verdict(attempts)
        network, unknown = False, last.unknown
        if not last.ok and not unknown and self.controls:
            left = budget - (self.clock.monotonic() - started)
            failed = await self.judge.all_failed(
                self.controls, max_age=spec.interval, budget=max(left, prober.MIN_ATTEMPT))
            if failed is None:  # a control could not be judged: neither down nor excused
                unknown = True
                last = Attempt(ok=False, latency=last.latency, status=last.status,
                               error=ErrorKind.PROBE_ERROR,
                               detail=f"control not judged; target {last.error}: {last.detail}")
            network = bool(failed)
        return Check(
            target=spec.name, at=at, ok=last.ok, interval=spec.interval, latency=last.latency,
            status=last.status,
            error=DEGRADED if last.ok and last.degraded else (
                None if last.error is None else str(last.error)),
            network=network, unknown=unknown,
        ), last.detail

