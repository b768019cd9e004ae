"""Pure SLA terms as history: what was in force at each instant.

The terms are the parts of the config that decide figures and verdicts: the
objective, the maintenance notice, whether retroactive windows are excluded, and
which targets are critical, the `[support]` table (calendar, merge gap, clocks: in
`extra["support"]`) and the quorum (`extra["quorum"]`); `extra` holds any further
term as JSON, so a new kind of term is additive. slaprobe records each version
with the time it first saw it; a version is in force from then until the next.
Before the first recorded version, the first one applies.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slaprobe.core.incidents import supportterms
from slaprobe.core.spec import Config


@dataclass(frozen=True, slots=True)
class Terms:
    objective: float
    maintenance_notice: float
    allow_retroactive_maintenance: bool
    critical: Mapping[str, bool]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Canonical JSON: equal terms give equal text (versions compare by it)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "maintenance_notice_seconds": self.maintenance_notice,
            "allow_retroactive_maintenance": self.allow_retroactive_maintenance,
            "critical": sorted(n for n, c in self.critical.items() if c),
            "not_critical": sorted(n for n, c in self.critical.items() if not c),
            **self.extra,
        }

    @classmethod
    def from_json(cls, text: str) -> Terms:
        d = dict(json.loads(text))
        critical = {n: True for n in d.pop("critical")}
        critical.update({n: False for n in d.pop("not_critical")})
        return cls(
            objective=float(d.pop("objective")),
            maintenance_notice=float(d.pop("maintenance_notice_seconds")),
            allow_retroactive_maintenance=bool(d.pop("allow_retroactive_maintenance")),
            critical=critical, extra=d,
        )


@dataclass(frozen=True, slots=True)
class Version:
    since: float
    terms: Terms


class TermsHistory:
    """Versions in time order (at least one)."""

    def __init__(self, versions: Sequence[Version]) -> None:
        if not versions:
            raise ValueError("terms history needs at least one version")
        self.versions = sorted(versions, key=lambda v: v.since)
        self._since = [v.since for v in self.versions]

    @property
    def latest(self) -> Terms:
        return self.versions[-1].terms

    def _index(self, at: float) -> int:
        return max(bisect.bisect_right(self._since, at) - 1, 0)

    def at(self, at: float) -> Terms:
        """The terms in force at `at` (before the first version: the first)."""
        return self.versions[self._index(at)].terms

    def segments(self, a: float, b: float) -> list[tuple[float, float, Terms]]:
        """[a, b) cut where the terms change, each part with its terms."""
        if b <= a:
            return []
        i = self._index(a)
        out: list[tuple[float, float, Terms]] = []
        start = a
        while True:
            nxt = self.versions[i + 1].since if i + 1 < len(self.versions) else b
            end = min(max(nxt, start), b)
            if end > start:
                out.append((start, end, self.versions[i].terms))
            if nxt >= b or i + 1 >= len(self.versions):
                break
            start, i = end, i + 1
        return out

    def in_range(self, a: float, b: float) -> list[Version]:
        """The versions that applied somewhere in [a, b): the one in force at `a`
        (its `since` may be before `a`, or after it for the first) and each change."""
        i = self._index(a)
        out = [self.versions[i]]
        out += [v for v in self.versions[i + 1:] if v.since < b]
        return out

    def critical_at(self, name: str, at: float, default: bool) -> bool:
        """Whether `name` was critical at `at`; a target the terms of that time do not
        name takes the nearest later version that does, else `default`."""
        i = self._index(at)
        for v in self.versions[i:]:
            if name in v.terms.critical:
                return v.terms.critical[name]
        return default

    def extra_at(self, key: str, at: float) -> Any:
        """The term `key` of `extra` in force at `at`; a version that does not record it
        (written before it was a term) takes the nearest later version that does, else
        None."""
        for v in self.versions[self._index(at):]:
            if key in v.terms.extra:
                return v.terms.extra[key]
        return None

    def steps(self, key: str, default: Any) -> list[tuple[float, Any]]:
        """The term `key` as a step function: (since, value) for each version, the
        first applying before its `since` too; `default` where no version records it."""
        out: list[tuple[float, Any]] = []
        for v in self.versions:
            value = self.extra_at(key, v.since)
            value = default if value is None else value
            if not out or out[-1][1] != value:
                out.append((v.since, value))
        return out


def changes(before: Terms, after: Terms) -> dict[str, tuple[Any, Any]]:
    """Which terms differ between two versions: key -> (old, new)."""
    a, b = before.as_dict(), after.as_dict()
    return {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


def weighted_objective(
    history: TermsHistory, a: float, b: float, counted: Callable[[float, float], float],
) -> float:
    """The objective over [a, b) when it changed inside: each part's objective weighted
    by its counted (up + down) seconds, so the error budget is the sum of each part's
    budget: `1 - objective = sum((1 - objective_i) x counted_i) / sum(counted_i)`."""
    parts = history.segments(a, b)
    if len({t.objective for _, _, t in parts}) <= 1:
        return (parts[0][2] if parts else history.at(a)).objective
    allowed = total = 0.0
    for s, e, t in parts:
        c = counted(s, e)
        total += c
        allowed += (1.0 - t.objective) * c
    return 1.0 - allowed / total if total > 0 else history.at(b).objective


def of_config(cfg: Config) -> Terms:
    return Terms(
        objective=cfg.slo.objective, maintenance_notice=cfg.slo.maintenance_notice,
        allow_retroactive_maintenance=cfg.slo.allow_retroactive_maintenance,
        critical={t.name: t.critical for t in cfg.targets},
        extra={"support": supportterms.encode(cfg.support), "quorum": cfg.slo.quorum,
               **_latency_terms(cfg)},
    )


def _latency_terms(cfg: Config) -> dict[str, Any]:
    """The settings that shape degraded time and the latency SLI, per target: only when
    some target has them (terms without them stay as they were recorded before)."""
    out: dict[str, Any] = {}
    degraded = {t.name: t.degraded_latency for t in cfg.targets if t.degraded_latency is not None}
    if degraded:
        out["degraded_latency_seconds"] = degraded
    objectives = {t.name: t.latency_objective for t in cfg.targets
                  if t.latency_objective is not None}
    if objectives:
        out["latency_objective"] = objectives
    return out
