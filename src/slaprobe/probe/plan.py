"""The probe plan: every configured target and control on the scheduler, at its interval.

`start` schedules the config's probes. `reconfigure` follows a reloaded config: the
jobs of removed targets stop, new and changed targets (re)start, a kept and unchanged
target keeps its slot, and the controls start over (their kept results dropped, see
`Probing.reconfigure`). `close` stops every job.
"""

from __future__ import annotations

from slaprobe.core.spec import Config, ProbeSpec
from slaprobe.probe.probing import Probing
from slaprobe.probe.scheduler import Scheduler


class ProbePlan:
    def __init__(self, scheduler: Scheduler, probing: Probing, cfg: Config) -> None:
        self.scheduler = scheduler
        self.probing = probing
        self.targets = {t.name: t for t in cfg.targets}  # scheduled once started
        self.controls = cfg.controls

    def start(self) -> None:
        for spec in self.targets.values():
            self._target(spec)
        for spec in self.controls:
            self._control(spec)

    def reconfigure(self, cfg: Config) -> None:
        old, self.targets = self.targets, {t.name: t for t in cfg.targets}
        for name in old.keys() - self.targets.keys():
            self.scheduler.stop(f"target:{name}")
        for name, spec in self.targets.items():
            if old.get(name) != spec:
                self._target(spec)
        for spec in self.controls:
            self.scheduler.stop(f"control:{spec.name}")
        self.controls = cfg.controls
        self.probing.reconfigure(cfg)
        for spec in self.controls:
            self._control(spec)

    async def close(self) -> None:
        await self.scheduler.close()

    def _target(self, spec: ProbeSpec) -> None:
        probe = self.probing.probe_target
        self.scheduler.start(f"target:{spec.name}", spec.interval, lambda: probe(spec))

    def _control(self, spec: ProbeSpec) -> None:
        probe = self.probing.judge.probe
        self.scheduler.start(f"control:{spec.name}", spec.interval, lambda: probe(spec))
