"""A small hand-made history for the report renderers' tests: three days, three targets.

app (critical): down 10-01 10:00-10:30.
api (critical): not probed 10-02 05:00-06:00 (unknown after its 2 x interval cap),
                excused maintenance 10-03 02:00-03:00 (announced days ahead).
docs (non-critical): down across midnight 10-02 23:50 - 10-03 00:20; a late-notice
                window 10-01 12:00-12:10 (announced an hour ahead: not excluded).
"""

from __future__ import annotations

from typing import Any

from slaprobe.config import parse
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import Check
from slaprobe.core.reporting import daily
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import parse_instant
from slaprobe.reporting import report

A = parse_instant("2026-10-01T00:00:00Z")
B = parse_instant("2026-10-04T00:00:00Z")
NOW = parse_instant("2026-10-05T00:00:00Z")
STEP = 60.0


def t(text: str) -> float:
    return parse_instant(text)


def config(reason: str = "DB upgrade") -> Config:
    return parse({
        "daemon": {"service": "CloneNer"},
        "targets": [
            {"name": "app", "url": "http://127.0.0.1:9/app", "interval": "60s"},
            {"name": "api", "url": "http://127.0.0.1:9/api", "interval": "60s"},
            {"name": "docs", "url": "http://127.0.0.1:9/docs", "interval": "60s",
             "critical": False},
        ],
    })


def windows(reason: str = "DB upgrade") -> list[Window]:
    return [
        Window(id="db-upgrade", start=t("2026-10-03T02:00:00Z"), end=t("2026-10-03T03:00:00Z"),
               announced=t("2026-09-28T09:00:00Z"), first_seen=t("2026-09-28T09:00:00Z"),
               targets=("api",), reason=reason, source="probe.toml", status="excused",
               excluded=True),
        Window(id="hotfix", start=t("2026-10-01T12:00:00Z"), end=t("2026-10-01T12:10:00Z"),
               announced=t("2026-10-01T11:00:00Z"), first_seen=t("2026-10-01T11:00:00Z"),
               targets=("docs",), reason="hotfix", source="probe.toml", status="late_notice",
               excluded=False),
    ]


def checks() -> list[Check]:
    out = []
    app_down = (t("2026-10-01T10:00:00Z"), t("2026-10-01T10:30:00Z"))
    api_gap = (t("2026-10-02T05:00:00Z"), t("2026-10-02T06:00:00Z"))
    docs_down = (t("2026-10-02T23:50:00Z"), t("2026-10-03T00:20:00Z"))
    at = A
    while at < B:
        out.append(Check("app", at, not app_down[0] <= at < app_down[1], STEP))
        if not api_gap[0] <= at < api_gap[1]:
            out.append(Check("api", at, True, STEP))
        out.append(Check("docs", at, not docs_down[0] <= at < docs_down[1], STEP))
        at += STEP
    return out


def tracker(reason: str = "DB upgrade") -> Tracker:
    cfg = config()
    tr = Tracker({x.name: x.critical for x in cfg.targets}, windows=windows(reason))
    for c in checks():
        tr.add(c)
    return tr


def build(reason: str = "DB upgrade") -> tuple[dict[str, Any], list[daily.Scope]]:
    cfg, tr = config(), tracker(reason)
    return report.build(cfg, tr, A, B, NOW), daily.build(tr, "CloneNer", A, B, NOW)
