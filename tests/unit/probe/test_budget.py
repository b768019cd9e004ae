"""The check budget `check` warns about and `once` applies."""

from __future__ import annotations

from slaprobe.core.probe import budget
from slaprobe.core.spec import ProbeSpec


def spec(**kw: float | int) -> ProbeSpec:
    return ProbeSpec(name="app", url="http://127.0.0.1:9/", **kw)  # type: ignore[arg-type]


def test_worst_case_counts_every_attempt_and_pause() -> None:
    s = spec(interval=30.0, timeout=10.0, retries=2, retry_interval=2.0)
    assert budget.worst_case(s) == 34.0
    assert budget.budget(s, 0.9) == 27.0


def test_warns_only_beyond_the_budget() -> None:
    fits = spec(interval=30.0, timeout=5.0, retries=2, retry_interval=2.0)  # 19s of 27s
    edge = spec(interval=10.0, timeout=3.0, retries=2, retry_interval=0.0)  # 9s of 9s
    over = spec(interval=30.0, timeout=10.0, retries=2, retry_interval=2.0)  # 34s of 27s
    assert budget.warnings([("targets[0] (a)", fits), ("targets[1] (b)", edge)], 0.9) == []
    [line] = budget.warnings([("targets[2] (c)", over)], 0.9)
    assert line == ("targets[2] (c): worst case 34s (3 attempts x timeout 10s + 2 x "
                    "retry_interval 2s) is beyond 90% of interval 30s (27s): the daemon cuts "
                    "the check short there")
