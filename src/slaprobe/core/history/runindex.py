"""PURE: which targets' timelines changed lately, without visiting every target.

Once a second the incident book, and every few seconds the service's timeline, ask
which targets were anything but one up run over a stretch of time; a scrape asks
the same of its windows. Nearly every target is one long up run, so the answers
are small sets; `RunIndex` keeps them in sorted lists updated as each check is
folded in (`note`), so a question costs a bisection plus the targets it returns:

- `not_up`: the targets whose open run is not up (down, excluded, unknown) or that
  have no open run;
- `since`: for each target the instant from which its timeline is one run (the
  later of its open run's start and its last closed span's end);
- `cap`: where each target's open run's coverage ends without a newer check;
- `final`: up to when each target's timeline is final (the earliest of all targets,
  and of the critical ones, is the first entry).

The answers are supersets: whoever asks still reads each returned target's
timeline, so a target listed too many is read, never one too few.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

from slaprobe.core.history.timeline import History
from slaprobe.core.model import State


class _Sorted:
    """(key, name) pairs in key order, one per name, each updated in O(log n + shift)."""

    __slots__ = ("items", "key")

    def __init__(self) -> None:
        self.items: list[tuple[float, str]] = []
        self.key: dict[str, float] = {}

    def set(self, name: str, key: float | None) -> None:
        old = self.key.get(name)  # (None: absent; a key is never None)
        if old == key:
            return
        if old is not None:
            i = bisect.bisect_left(self.items, (old, name))
            del self.items[i]
            del self.key[name]
        if key is not None:
            bisect.insort(self.items, (key, name))
            self.key[name] = key

    def above(self, x: float) -> list[str]:
        """Names whose key is > x."""
        i = bisect.bisect_right(self.items, (x, "\U0010ffff"))
        return [n for _, n in self.items[i:]]

    def below(self, x: float) -> list[str]:
        """Names whose key is < x."""
        i = bisect.bisect_left(self.items, (x, ""))
        return [n for _, n in self.items[:i]]

    def at_most(self, x: float) -> list[str]:
        """Names whose key is <= x."""
        i = bisect.bisect_right(self.items, (x, "\U0010ffff"))
        return [n for _, n in self.items[:i]]

    def between(self, lo: float, hi: float) -> list[str]:
        """Names whose key is > lo and <= hi."""
        i = bisect.bisect_right(self.items, (lo, "\U0010ffff"))
        j = bisect.bisect_right(self.items, (hi, "\U0010ffff"))
        return [n for _, n in self.items[i:j]]

    def first(self) -> float | None:
        return self.items[0][0] if self.items else None


class RunIndex:
    """The targets' runs indexed by when they started, end their coverage, are final."""

    def __init__(self, histories: Mapping[str, History], critical: Mapping[str, bool]) -> None:
        self.histories = histories
        self.critical = critical
        self.not_up: set[str] = set()
        self.since, self.cap = _Sorted(), _Sorted()
        self.final_all, self.final_critical = _Sorted(), _Sorted()
        self.no_final: set[str] = set()  # critical targets with no final instant at all
        self.n_critical = sum(1 for c in critical.values() if c)
        for name in histories:
            self.note(name)

    def note(self, name: str) -> None:
        """`name`'s timeline may have changed (a check folded in, a history replaced)."""
        h = self.histories[name]
        run = h.open
        if run is None or run.state != State.UP:
            self.not_up.add(name)
        else:
            self.not_up.discard(name)
        end = h.spans.end
        if run is None:
            self.since.set(name, end if end is not None else -math.inf)
            self.cap.set(name, None)
        else:
            self.since.set(name, run.start if end is None else max(run.start, end))
            self.cap.set(name, run.cap_end)
        final = h.final_until()
        self.final_all.set(name, final)
        if self.critical.get(name):
            self.final_critical.set(name, final)
            if final is None:
                self.no_final.add(name)
            else:
                self.no_final.discard(name)

    def final_until(self) -> float | None:
        """The earliest instant up to which a target's timeline is final (None: none is)."""
        return self.final_all.first()

    def service_final(self) -> float | None:
        """The earliest of the critical targets' final instants (None: one has none)."""
        if self.no_final or not self.n_critical:
            return None
        return self.final_critical.first()

    def moved_since(self, at: float) -> set[str]:
        """The targets whose timeline from `at` on may be anything but one up run
        (a superset: every target with down, excluded or unknown time after `at`)."""
        return self.not_up.union(self.since.above(at))

    def not_up_at(self, now: float) -> set[str]:
        """The targets whose probe state at `now` may be anything but up (a superset:
        a target not in it has an up run whose coverage reaches past `now`)."""
        out = set(self.not_up)
        out.update(self.cap.at_most(now))
        return out

    def capped_between(self, lo: float, hi: float) -> list[str]:
        """The targets whose coverage ended after `lo`, by `hi` (their probe state
        turned unknown in between, with no check)."""
        return self.cap.between(lo, hi)

    def unsteady(self, a: float, b: float, now: float) -> set[str] | None:
        """The targets whose timeline in [a, b) as of `now` may be anything but one up
        run covering all of it, maintenance aside (None: cannot tell, b is after now).
        A superset: a target not in it is up throughout [a, b)."""
        if b > now:
            return None
        out = self.moved_since(a)
        out.update(self.cap.below(b))
        return out
