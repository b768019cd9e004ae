"""Pure state of a daemon on a shared history: every location's timelines, their consensus.

Each location's checks fold into that location's own History per target (the daemon's
own as it makes them, the others' as it reads them from the store). `consensus` gives
the History the SLA figures use: the quorum consensus over every location
(`core.consensus`), whose open run is final only up to `final_until`: the earliest
instant a check still to arrive from a live location could change. A location whose
last check's coverage ended more than `slack` ago is not live (stopped, killed, cut
off): it holds nothing back, and its silence is unknown time at that location.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from slaprobe.core.history.consensus import Quorum, consensus_spans
from slaprobe.core.history.timeline import History, OpenRun, Spans
from slaprobe.core.model import Check


class Vantage:
    """Timelines per location and target, fed check by check, and their consensus."""

    def __init__(self, quorum: Quorum, *, slack: float) -> None:
        if isinstance(quorum, int) and quorum < 1:
            raise ValueError(f"quorum must be at least 1, not {quorum}")
        self.quorum: Quorum = quorum  # one number, or steps (the quorum as a term)
        self.slack = slack
        self.histories: dict[str, dict[str, History]] = {}  # location -> target -> History
        self.dirty: set[str] = set()  # targets whose consensus changed since `clean`

    def set_history(self, location: str, target: str, history: History) -> None:
        self.histories.setdefault(location, {})[target] = history
        self.dirty.add(target)

    def add(self, check: Check) -> bool:
        """Fold one check into its location's timeline; False when it was already there
        (a check read twice, or older than what was loaded)."""
        h = self.histories.setdefault(check.location, {}).get(check.target)
        if h is None:
            h = self.histories[check.location][check.target] = History()
        run = h.open
        if run is not None and check.at <= run.last_at:
            return False
        if run is None and h.spans.end is not None and check.at < h.spans.end:
            return False
        h.add(check)
        self.dirty.add(check.target)
        return True

    def add_all(self, checks: Iterable[Check]) -> int:
        return sum(1 for c in checks if self.add(c))

    def locations(self) -> list[str]:
        return sorted(self.histories)

    def last_checks(self) -> dict[str, float]:
        """Each location's newest check (its start) among the timelines held."""
        out: dict[str, float] = {}
        for loc, hs in self.histories.items():
            times = [h.open.last_at for h in hs.values() if h.open is not None]
            if times:
                out[loc] = max(times)
        return out

    def of(self, target: str) -> dict[str, History]:
        return {loc: hs[target] for loc, hs in self.histories.items() if target in hs}

    def final_until(self, target: str, now: float) -> float:
        """Up to when the target's consensus can no longer change as checks arrive."""
        finals = []
        for h in self.of(target).values():
            run = h.open
            if run is None:
                continue
            if now - run.cap_end > self.slack:
                continue  # not live: its history ends where its coverage did
            finals.append(run.last_at)
        return min(finals) if finals else now

    def consensus(self, target: str, since: float, now: float) -> History:
        """The target's consensus History from `since` on, as of `now`.

        Each location's last check is taken to cover its whole provisional span (to
        its 2 x interval cap), so the open run also says how long the state at `now`
        lasts without news; the closed spans end by `now`."""
        spans = consensus_spans((h.between(since, math.inf, math.inf) for h in self.of(
            target).values()), self.quorum, since, math.inf)
        past = [(s, e) for s, e, _ in spans if s < now]
        h = History()
        if not past:
            return h
        out = Spans()
        for s, e, st in spans[:len(past) - 1]:
            out.append(s, e, st)
        h.spans = out
        s, cap, st = spans[len(past) - 1]
        h.open = OpenRun(s, st, min(cap, now, self.final_until(target, now)), cap)
        return h

    def consensus_all(self, targets: Iterable[str], since: float, now: float,
                      ) -> Mapping[str, History]:
        return {t: self.consensus(t, since, now) for t in targets}

    def clean(self) -> set[str]:
        """The targets changed since the last call (their consensus needs recomputing)."""
        out, self.dirty = self.dirty, set()
        return out
