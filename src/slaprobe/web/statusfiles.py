"""The files of the customer-facing status: the badges (and, beside them, the page
and the feed), computed from the history the same way the report JSON is, so the
daemon's routes and `slaprobe status export` serve the same bytes.

Badge paths (DESIGN, "Status for customers"): `badge/SCOPE/availability/WINDOW.svg`
with SCOPE `service` or a target name and WINDOW one of `[slo] windows`, `month` (this
UTC month so far) or a closed month `YYYY-MM` (its frozen statement), and
`badge/SCOPE/state.svg`, and for a TLS target `badge/TARGET/certificate.svg`. A window's
figures are its report JSON's (`report.build` over [now - window, now)), a certificate's
days left the report's `certificates` at now; an undefined figure reads `unknown`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import State
from slaprobe.core.reporting import atomfeed, badges
from slaprobe.core.spec import Config, ProbeSpec
from slaprobe.core.timefmt import iso, month_start
from slaprobe.evidence import statements
from slaprobe.history.storeapi import HistoryStore
from slaprobe.incidents import stored as incidents
from slaprobe.reporting import report

FEED_DAYS = 90
DAY = 86400.0
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
STATE_NAMES = {State.UP: "up", State.DOWN: "down", State.PROBE_NETWORK: "probe_network",
               State.MAINTENANCE: "maintenance"}
Reports = Callable[[str], "dict[str, Any] | None"]


def state_name(st: State | None) -> str:
    return "unknown" if st is None else STATE_NAMES[st]


def window_range(cfg: Config, window: str, now: float) -> tuple[float, float] | None:
    """[a, b) of a rolling window or `month`; None for anything else."""
    if window == "month":
        m0 = month_start(now)
        return m0, max(now, m0 + 1.0)
    seconds = dict(cfg.slo.windows).get(window)
    return None if seconds is None else (now - seconds, now)


def since(cfg: Config, a: float) -> float:
    """How far back to read so the first check before `a` covers its part of it."""
    return a - 2 * max((t.interval for t in cfg.targets), default=0.0)


def window_report(cfg: Config, store: HistoryStore, windows: list[Window], window: str,
                  now: float) -> dict[str, Any] | None:
    """The report JSON a badge's figure is taken from; None: no such window (or a
    month without a statement)."""
    if MONTH.fullmatch(window):
        text = statements.stored(store).get(window)
        return None if text is None else dict(json.loads(text))
    rng = window_range(cfg, window, now)
    if rng is None:
        return None
    a, b = rng
    tracker = report.load_tracker(cfg, store, since(cfg, a), windows, now)
    return report.build(cfg, tracker, a, b, now)


def scopes(cfg: Config) -> list[str]:
    return ["service", *(t.name for t in cfg.targets)]


def _label(cfg: Config, scope: str) -> str:
    return cfg.daemon.service if scope == "service" else scope


def availability_badge(cfg: Config, scope: str, window: str, reports: Reports) -> str | None:
    """The SVG of `badge/SCOPE/availability/WINDOW.svg`; None: unknown scope or window."""
    if scope not in scopes(cfg):
        return None
    rep = reports(window)
    if rep is None:
        return None
    fig = rep["service"] if scope == "service" else rep["targets"].get(scope)
    ratio = None if fig is None else fig["availability"]  # a target not in a past month
    return badges.availability(f"{_label(cfg, scope)} {window}", ratio, rep["objective"])


def state_badge(cfg: Config, scope: str, states: Mapping[str, str]) -> str | None:
    """The SVG of `badge/SCOPE/state.svg`; None: unknown scope."""
    if scope not in scopes(cfg):
        return None
    return badges.state(_label(cfg, scope), states.get(scope, "unknown"))


def is_tls(t: ProbeSpec) -> bool:
    """A target whose certificates are verified and recorded: https://, or tcp:// with
    `tls = true`."""
    return t.tls if t.kind == "tcp" else (
        t.kind == "http" and urlsplit(t.url).scheme.lower() == "https")


def certificates(cfg: Config, store: HistoryStore, now: float) -> dict[str, Any]:
    """Each TLS target's last recorded certificates, days left at `now` (the report's)."""
    return report.certificates(cfg, store, now, now, now)


def certificate_badge(cfg: Config, scope: str, certs: Mapping[str, Any]) -> str | None:
    """The SVG of `badge/TARGET/certificate.svg` (`certs`: `certificates()`); None: not
    a TLS target (or `service`, or unknown). A TLS target without a recorded
    certificate reads `unknown`."""
    t = None if scope == "service" else cfg.target(scope)
    if t is None or not is_tls(t):
        return None
    c = certs.get(scope)
    return badges.certificate(f"{scope} certificate", None if c is None else c["days_left"])


def states(cfg: Config, tracker: Tracker, now: float) -> dict[str, str]:
    """The state of the service and of each target at `now`."""
    out = {"service": state_name(tracker.service_state(now))}
    for t in cfg.targets:
        st = tracker.effective_state(t.name, now) if t.name in tracker.critical else None
        out[t.name] = state_name(st)
    return out


def badge_windows(cfg: Config, store: HistoryStore) -> list[str]:
    """Every window a badge is made for: the rolling ones, month, each closed month."""
    return [*(label for label, _ in cfg.slo.windows), "month",
            *sorted(statements.stored(store))]


def all_badges(cfg: Config, store: HistoryStore, windows: list[Window], tracker: Tracker,
               now: float) -> dict[str, bytes]:
    """Every badge, by its path under `badge/` (for the static export)."""
    reps = {w: window_report(cfg, store, windows, w, now) for w in badge_windows(cfg, store)}
    live = states(cfg, tracker, now)
    certs = certificates(cfg, store, now)
    out: dict[str, bytes] = {}
    for scope in scopes(cfg):
        for w in reps:
            text = availability_badge(cfg, scope, w, reps.get)
            if text is not None:
                out[f"{scope}/availability/{w}.svg"] = text.encode()
        text = state_badge(cfg, scope, live)
        if text is not None:
            out[f"{scope}/state.svg"] = text.encode()
        text = certificate_badge(cfg, scope, certs)
        if text is not None:
            out[f"{scope}/certificate.svg"] = text.encode()
    return out


def announcements(windows: list[Window], a: float) -> list[atomfeed.Announcement]:
    """Maintenance windows announced (first seen) or still running after `a`."""
    return [atomfeed.Announcement(
        id=w.id, start=iso(w.start), end=iso(w.end), first_seen=iso(w.first_seen),
        announced=iso(w.announced), targets=w.targets, reason=w.reason, status=w.status)
        for w in windows if w.first_seen >= a or w.end >= a]


def feed(cfg: Config, store: HistoryStore, windows: list[Window], now: float, *,
         self_href: str, page_href: str) -> str:
    """The Atom feed of the last FEED_DAYS days' incidents and maintenance announcements."""
    a = now - FEED_DAYS * DAY
    tracker = report.load_tracker(cfg, store, since(cfg, a - incidents.LOOKBACK), windows, now)
    acks, ups = incidents.notes(store)
    items = incidents.to_json(incidents.in_range(cfg, tracker, acks, a=a, b=now, now=now), ups)
    return atomfeed.render(service=cfg.daemon.service, generated=iso(now), incidents=items,
                           maintenance=announcements(windows, a), self_href=self_href,
                           page_href=page_href)
