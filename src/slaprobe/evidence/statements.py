"""Monthly statements: a closed month's report JSON, computed once and chained.

A UTC calendar month closes when the daemon sees the first check after its end, or
at start-up. Its *statement* is that month's report JSON (exactly the text of
`report --month M --format json` at that moment), appended to the hash chain as a
record of kind `statement` with payload `{"month": "YYYY-MM", "report": TEXT}`.
From then on `report --month M` returns it byte for byte (JSON; text and markdown
are rendered from it), whatever is pruned or reconfigured later; an import into the
month is refused; `verify` recomputes the month's figures from the raw checks still
held and flags any that differ.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from slaprobe.core.evidence.terms import TermsHistory
from slaprobe.core.history.consensus import consensus_history
from slaprobe.core.history.timeline import fold
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, RETROACTIVE, Window
from slaprobe.core.slo import Figures
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import month_range, month_start, parse_instant
from slaprobe.history.storeapi import HistoryStore
from slaprobe.reporting import report

KIND = "statement"
TOLERANCE = 0.01  # seconds: the statement's window times are written to the millisecond


def month_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m")


def stored(store: HistoryStore) -> dict[str, str]:
    """Every statement's report text by month."""
    return {p["month"]: p["report"] for _, _, p in store.records(KIND)}


def to_close(store: HistoryStore, now: float, *, upto: float) -> list[str]:
    """Months with checks that ended by `upto` (and before `now`) and have no statement."""
    first = store.first_check_at()
    if first is None:
        return []
    have = set(stored(store))
    out = []
    m = month_start(first)
    while True:
        month = month_of(m)
        _, end = month_range(month)
        if end > min(upto, now):
            break
        if month not in have:
            out.append(month)
        m = end
    return out


class Unverified(Exception):
    """A month is not frozen: the timelines its figures read do not agree with the
    chained checks (an edit from outside)."""

    def __init__(self, month: str, problem: str) -> None:
        super().__init__(f"the statement of {month} is not stored: {problem}")
        self.month = month
        self.problem = problem


def close(store: HistoryStore, cfg: Config, windows: list[Window], now: float, *,
          upto: float) -> list[str]:
    """Compute and chain the statement of every month closed by `upto`; the months.
    A month is frozen only from verified data: its stored timelines are first checked
    against its checks (Unverified names what differs; nothing is stored)."""
    done = []
    for month in to_close(store, now, upto=upto):
        a, b = month_range(month)
        since = a - 2 * max((t.interval for t in cfg.targets), default=0.0)
        problem = store.verify_derived(since)
        if problem:
            raise Unverified(month, problem)
        tracker = report.load_tracker(cfg, store, since, windows, now)
        text = report.render_json(report.build(cfg, tracker, a, b, now))
        store.append_record(KIND, {"month": month, "report": text}, now)
        done.append(month)
    return done


def recheck(store: HistoryStore, month: str, text: str, terms: TermsHistory, *,
            quorum: int = 1) -> str:
    """'' when the statement agrees with the raw checks still held (or they are gone:
    pruned); else what differs."""
    rep: dict[str, Any] = json.loads(text)
    a, b = month_range(month)
    names = list(rep["targets"])
    locations = store.locations() or [store.location]
    held = {loc: {n: store.checks(n, a - 86400.0, b, location=loc) for n in names}
            for loc in locations}
    if store.pruned_since(a):
        return ""  # raw checks of the month pruned: the statement is the record now
    windows = [_window(m, terms) for m in rep["maintenance"]]
    now = parse_instant(rep["to"])
    critical = {n: terms.critical_at(n, a, default=True) for n in names}
    if len(locations) == 1:
        histories = {n: fold(cs) for n, cs in held[locations[0]].items()}
    else:  # a shared history's statement is the locations' consensus (quorum in force)
        steps = terms.steps("quorum", quorum)
        histories = {n: consensus_history({loc: fold(held[loc][n]) for loc in locations},
                                          steps, a - 86400.0, b, now) for n in names}
    tracker = Tracker(critical, histories, windows)
    tracker.set_terms(terms)
    for name in names:
        f = tracker.target_figures(name, a, b, now)
        problem = _compare(f"{name}", rep["targets"][name], f.up, f.down, f.excluded)
        if problem:
            return problem
    f = Figures.of(tracker.service_timeline(a, b, now).totals(a, b), b - a)
    return _compare("the service", rep["service"], f.up, f.down, f.excluded)


def _window(m: dict[str, Any], terms: TermsHistory) -> Window:
    first_seen = parse_instant(m["first_seen"])
    allow = terms.at(first_seen).allow_retroactive_maintenance
    return Window(
        id=m["id"], start=parse_instant(m["start"]), end=parse_instant(m["end"]),
        announced=parse_instant(m["announced"]), first_seen=first_seen,
        targets=None if m["targets"] is None else tuple(m["targets"]), reason="",
        source="statement", status=m["status"],
        excluded=m["status"] == EXCUSED or (m["status"] == RETROACTIVE and allow))


def _compare(scope: str, s: dict[str, Any], up: float, down: float, excluded: float) -> str:
    for key, value in (("up_seconds", up), ("down_seconds", down),
                       ("excluded_seconds", excluded)):
        if abs(float(s[key]) - value) > TOLERANCE:
            return (f"{scope} {key} is {s[key]} in the statement but {value} from the raw "
                    "checks held")
    return ""
