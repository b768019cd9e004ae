"""The control judge: fresh results answer, stale ones are probed again within the budget."""

from __future__ import annotations

from slaprobe.clock import FakeClock
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe.controls import ControlJudge

A = ProbeSpec(name="a", url="http://127.0.0.1:1/")
B = ProbeSpec(name="b", url="http://127.0.0.1:2/")


class Probes:
    """Scripted control outcomes, noting each probe and the budget it was given."""

    def __init__(self, **outcomes: bool | None) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, float | None]] = []

    async def __call__(self, spec: ProbeSpec, budget: float | None) -> bool | None:
        self.calls.append((spec.name, budget))
        return self.outcomes[spec.name]


async def test_fresh_results_answer_without_probing() -> None:
    clock = FakeClock()
    probes = Probes(a=False, b=False)
    judge = ControlJudge(clock, probes)
    await judge.probe(A)
    await judge.probe(B)
    await clock.advance(20.0)
    assert await judge.all_failed([A, B], max_age=30.0, budget=5.0) is True
    assert probes.calls == [("a", None), ("b", None)]


async def test_stale_or_missing_results_are_probed_now_within_the_budget() -> None:
    clock = FakeClock()
    probes = Probes(a=False, b=True)
    judge = ControlJudge(clock, probes)
    await judge.probe(A)
    await clock.advance(31.0)
    assert await judge.all_failed([A, B], max_age=30.0, budget=2.5) is False
    assert probes.calls[1:] == [("a", 2.5), ("b", 2.5)]
    assert judge.results["b"] == (31.0, True)


async def test_one_success_is_enough_and_an_unjudged_control_is_unknown() -> None:
    clock = FakeClock()
    judge = ControlJudge(clock, Probes(a=None, b=False))
    assert await judge.all_failed([A, B], max_age=30.0, budget=1.0) is None
    judge = ControlJudge(clock, Probes(a=None, b=True))
    assert await judge.all_failed([A, B], max_age=30.0, budget=1.0) is False


async def test_forget_drops_the_kept_results() -> None:
    clock = FakeClock()
    probes = Probes(a=False)
    judge = ControlJudge(clock, probes)
    await judge.probe(A)
    judge.forget()
    assert await judge.all_failed([A], max_age=30.0, budget=1.0) is True
    assert len(probes.calls) == 2
