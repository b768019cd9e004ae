"""The probe plan on the fake clock: every target and control scheduled; a reloaded
config stops removed targets, restarts changed and new ones, keeps an unchanged
target's slot, and starts the controls over with their kept results dropped."""

from __future__ import annotations

from typing import Any

from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.spec import Config, ProbeSpec
from slaprobe.probe.plan import ProbePlan
from slaprobe.probe.scheduler import Scheduler


class Judge:
    async def probe(self, spec: ProbeSpec, budget: float | None = None) -> bool | None:
        return True


class FakeProbing:
    """Stands in for Probing: records what the plan asked of it."""

    def __init__(self) -> None:
        self.judge = Judge()
        self.reconfigured: list[Config] = []

    async def probe_target(self, spec: ProbeSpec) -> None:
        return None

    def reconfigure(self, cfg: Config) -> None:
        self.reconfigured.append(cfg)


def config(targets: dict[str, str], controls: list[str]) -> Config:
    raw: dict[str, Any] = {
        "targets": [{"name": n, "url": f"http://127.0.0.1:9/{n}", "interval": iv}
                    for n, iv in targets.items()],
        "controls": [{"name": n, "url": f"http://127.0.0.1:9/{n}"} for n in controls],
    }
    return parse(raw, env={})


async def test_a_reload_restarts_only_what_changed() -> None:
    clock = FakeClock(start=1_800_000_000.0)
    scheduler = Scheduler(clock, 10)
    probing = FakeProbing()
    plan = ProbePlan(scheduler, probing, config({"app": "30s", "api": "30s"}, ["dns"]))  # type: ignore[arg-type]
    try:
        plan.start()
        assert set(scheduler.jobs) == {"target:app", "target:api", "control:dns"}
        app, api, dns = (scheduler.jobs[k] for k in ("target:app", "target:api", "control:dns"))

        new = config({"app": "30s", "api": "1m", "web": "30s"}, ["dns", "gw"])
        plan.reconfigure(new)
        assert set(scheduler.jobs) == {"target:app", "target:api", "target:web",
                                       "control:dns", "control:gw"}
        assert scheduler.jobs["target:app"] is app  # unchanged: keeps its slot
        assert scheduler.jobs["target:api"] is not api and api.stopped  # changed: restarted
        assert scheduler.jobs["target:api"].interval == 60.0
        assert scheduler.jobs["control:dns"] is not dns and dns.stopped  # controls start over
        assert probing.reconfigured == [new]

        plan.reconfigure(config({"web": "30s"}, []))
        assert set(scheduler.jobs) == {"target:web"}
        assert app.stopped
    finally:
        await plan.close()
    assert scheduler.jobs == {}
