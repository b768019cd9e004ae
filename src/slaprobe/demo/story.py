"""The demo's scripted story, pure: how the simulated CloneNer behaves at each moment.

Two parts, both functions of time (never read from a clock here):
- `history`: a month of plausible checks before the demo starts (a few single
  failed checks, a critical outage, a flap, a non-critical slowdown, an excused
  and a late maintenance window, a gap while "slaprobe was down");
- `live`: what each endpoint answers during the live minutes, scripted as shares
  of the live duration (a flap, a critical outage, a non-critical slowdown, an
  excused maintenance window announced days ahead).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from slaprobe.core.model import Check
from slaprobe.core.spec import MaintenanceSpec

DAY = 86400.0
HOUR = 3600.0
TARGETS = (("app", True, "/app/health"), ("api", True, "/api/health"),
           ("docs", False, "/docs/"))
HISTORY_INTERVAL = 60.0
SLOW_LIMIT = 0.4  # docs' max_latency in the demo config, seconds


@dataclass(frozen=True, slots=True)
class Answer:
    """What one endpoint answers: HTTP status, delay before answering, body."""

    status: int = 200
    delay: float = 0.01
    body: str = "ok"


@dataclass(frozen=True, slots=True)
class Episode:
    target: str
    kind: str         # flap, outage, slow, maintenance
    start: float      # share of the live duration
    end: float
    note: str


LIVE = (
    Episode("api", "flap", 0.10, 0.25, "api flaps (every other check fails)"),
    Episode("app", "outage", 0.32, 0.52, "app is down: a critical outage (HTTP 503)"),
    Episode("docs", "slow", 0.58, 0.76, "docs is slow: a non-critical slowdown"),
    Episode("api", "maintenance", 0.82, 1.00,
            "api in maintenance announced 3 days ahead: excused"),
)


def live_answer(target: str, elapsed: float, duration: float, interval: float) -> Answer:
    """The answer of `target` at `elapsed` seconds into a live part of `duration`."""
    share = elapsed / duration if duration > 0 else 1.0
    for ep in LIVE:
        if ep.target != target or not ep.start <= share < ep.end:
            continue
        if ep.kind == "flap":
            if math.floor(elapsed / interval) % 2 == 0:
                return Answer(status=502, body="bad gateway")
        elif ep.kind in ("outage", "maintenance"):
            return Answer(status=503, body="unavailable")
        elif ep.kind == "slow":
            return Answer(delay=SLOW_LIMIT * 2.5)
    return Answer()


def live_note(elapsed: float, duration: float) -> str:
    share = elapsed / duration if duration > 0 else 1.0
    notes = [ep.note for ep in LIVE if ep.start <= share < ep.end]
    return "; ".join(notes) or "all quiet"


def day0(t0: float) -> float:
    return math.floor(t0 / DAY) * DAY


def maintenance(t0: float, live_duration: float) -> list[MaintenanceSpec]:
    """The demo's windows: excused in the past, late in the past, excused during the
    live part (announced 3 days ahead), and one announced now for next week."""
    d = day0(t0)
    live_start = t0 + LIVE[-1].start * live_duration
    return [dataclasses.replace(w, start=float(round(w.start)), end=float(round(w.end)),
                                announced=float(round(w.announced))) for w in [
        MaintenanceSpec(id="db-upgrade", start=d - 5 * DAY + 2 * HOUR,
                        end=d - 5 * DAY + 3 * HOUR, announced=d - 9 * DAY + 10 * HOUR,
                        targets=("api",), reason="Database upgrade", source="probe.toml"),
        MaintenanceSpec(id="hotfix", start=d - 3 * DAY + 14 * HOUR,
                        end=d - 3 * DAY + 14 * HOUR + 20 * 60, announced=d - 3 * DAY + 13 * HOUR,
                        targets=("app",), reason="Urgent hotfix, announced an hour ahead",
                        source="probe.toml"),
        MaintenanceSpec(id="api-rollout", start=live_start, end=t0 + live_duration + 120,
                        announced=t0 - 3 * DAY, targets=("api",),
                        reason="API rollout (announced three days ahead)",
                        source="probe.toml"),
        MaintenanceSpec(id="next-week", start=d + 7 * DAY + 2 * HOUR,
                        end=d + 7 * DAY + 4 * HOUR, announced=t0, targets=None,
                        reason="Quarterly platform upgrade", source="probe.toml"),
    ]]  # whole seconds, as probe.toml writes them: first sight is of the same windows


def _down(target: str, at: float, t0: float) -> tuple[bool, str | None, float]:
    """(ok, error, latency) of a history check of `target` at `at`."""
    d = day0(t0)
    if target == "app":
        if d - 20 * DAY + 9.5 * HOUR <= at < d - 20 * DAY + 9.5 * HOUR + 12 * 60:
            return False, "bad_status", 0.05
        if d - 3 * DAY + 14 * HOUR <= at < d - 3 * DAY + 14 * HOUR + 1200:  # the late window
            return False, "bad_status", 0.04
    if target == "api":
        flap = d - 12 * DAY + 16 * HOUR <= at < d - 12 * DAY + 16 * HOUR + 600
        if flap and int((at - d) / HISTORY_INTERVAL) % 2:
            return False, "bad_status", 0.06
        if d - 5 * DAY + 2 * HOUR <= at < d - 5 * DAY + 3 * HOUR:  # excused window
            return False, "bad_status", 0.03
    if target == "docs" and d - 8 * DAY + 13 * HOUR <= at < d - 8 * DAY + 15 * HOUR:
        return False, "too_slow", 1.2
    return True, None, 0.0


def history(t0: float, days: int = 30, seed: int = 7) -> Iterator[Check]:
    """A month of checks before `t0`, every minute, in time order."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    gap = (day0(t0) - 15 * DAY + 4 * HOUR, day0(t0) - 15 * DAY + 4.25 * HOUR)
    start = t0 - days * DAY
    n = int(days * DAY / HISTORY_INTERVAL)
    for i in range(n):
        at = start + i * HISTORY_INTERVAL
        if gap[0] <= at < gap[1]:
            continue  # slaprobe itself was not running: unknown, neither up nor down
        for name, _, _ in TARGETS:
            ok, error, latency = _down(name, at, t0)
            if ok and rng.random() < 0.00003:
                ok, error, latency = False, "timeout", 1.0
            if ok:
                latency = max(rng.gauss(0.08 if name != "docs" else 0.15, 0.02), 0.005)
            yield Check(target=name, at=at, ok=ok, interval=HISTORY_INTERVAL,
                        latency=latency, status=200 if ok else (
                            None if error == "timeout" else 503 if error == "bad_status"
                            else 200), error=error)
