"""The terms an incident is judged on, from the SLA terms history.

`InForce` answers the two questions the incident rules ask of the terms
(`rules.CriticalFrom`, `rules.SupportAt`): from when inside a down period a target
counted as critical, and which `[support]` terms (calendar, merge gap, clocks) were in
force at an instant. A version recorded before `[support]` was a term takes the
nearest later version that records it; with no history the config's apply.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from slaprobe.core.evidence.terms import TermsHistory
from slaprobe.core.incidents import supportterms
from slaprobe.core.incidents.rules import Support


class InForce:
    """`terms` (None: no history, `critical` and `support` apply to all time)."""

    def __init__(self, terms: TermsHistory | None, critical: Mapping[str, bool],
                 support: Support, zone: supportterms.Zone = supportterms.utc_only) -> None:
        self.terms = terms
        self.critical = dict(critical)
        self.current = support
        self._since: list[float] = []
        self._supports: list[Support] = []
        if terms is None:
            return
        mine = supportterms.encode(support)
        decoded: dict[str, Support] = {}
        for v in terms.versions:
            raw = terms.extra_at("support", v.since)
            if raw is None or raw == mine:
                sup = support
            else:
                key = repr(sorted(raw.items()))
                if key not in decoded:
                    decoded[key] = supportterms.decode(raw, zone)
                sup = decoded[key]
            self._since.append(v.since)
            self._supports.append(sup)

    def support_at(self, at: float) -> Support:
        if not self._supports:
            return self.current
        return self._supports[max(bisect.bisect_right(self._since, at) - 1, 0)]

    def critical_from(self, name: str, a: float, b: float) -> float | None:
        """The first instant in [a, b) at which `name` was critical, or None."""
        default = self.critical.get(name, True)
        terms = self.terms
        if terms is None or len(terms.versions) == 1:
            crit = default if terms is None else terms.critical_at(name, a, default)
            return a if crit else None
        for s, _, t in terms.segments(a, b):
            if t.critical.get(name, terms.critical_at(name, s, default)):
                return s
        return None
