"""Every term that shapes a figure is recorded: a config edit after the fact leaves
every past figure, incident included, byte for byte as it was (DESIGN "Evidence").

The history: a 10-minute outage of the critical `app` and two outages of the
non-critical `docs` 12 minutes apart, imported under the first terms. Each edit
(`critical = false`, a medium resolution of 1h, a larger merge gap, another
timezone, other hours, days and holidays, a shorter high response) must change
nothing already past; imported into a fresh history under
the edited terms, the same checks give other incidents (so each edit matters).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from procs import free_port, slaprobe, write_config

from slaprobe.core.timefmt import parse_instant

pytestmark = pytest.mark.slow

RANGE = ("--from", "2026-11-10T00:00:00Z", "--to", "2026-11-11T00:00:00Z")


def config(path: Path, *, app_critical: str = "true", timezone: str = "Europe/London",
           merge_gap: str = "10m", medium_resolution: str = "2d", hours: str = "09:00-17:00",
           days: str = "mon-fri", extra_holidays: str = "[]", high_response: str = "4h",
           ) -> Path:
    return write_config(path, port=free_port(), extra=f"""
[support]
timezone = "{timezone}"
hours = "{hours}"
days = "{days}"
extra_holidays = {extra_holidays}
merge_gap = "{merge_gap}"

[support.high]
response = "{high_response}"

[support.medium]
resolution = "{medium_resolution}"
""", targets=f"""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "60s"
critical = {app_critical}

[[targets]]
name = "docs"
url = "http://127.0.0.1:9/docs"
interval = "60s"
critical = false
""")


def imported(folder: Path, **edits: str) -> Path:
    folder.mkdir()
    cfg = config(folder / "probe.toml", **edits)
    a, b = parse_instant("2026-11-10T09:00:00Z"), parse_instant("2026-11-10T12:00:00Z")
    app_down = (parse_instant("2026-11-10T10:00:00Z"), parse_instant("2026-11-10T10:10:00Z"))
    docs_down = [(parse_instant("2026-11-10T10:30:00Z"), parse_instant("2026-11-10T10:40:00Z")),
                 (parse_instant("2026-11-10T10:52:00Z"), parse_instant("2026-11-10T11:00:00Z"))]
    lines = ["target,time,ok"]
    at = a
    while at < b:
        lines.append(f"app,{at:.0f},{0 if app_down[0] <= at < app_down[1] else 1}")
        lines.append(f"docs,{at:.0f},{0 if any(s <= at < e for s, e in docs_down) else 1}")
        at += 60
    (folder / "h.csv").write_text("\n".join(lines) + "\n")
    r = slaprobe("import", "h.csv", "--config", str(cfg), cwd=folder)
    assert r.returncode == 0, r.stderr
    return cfg


def figures(cfg: Path) -> tuple[str, str]:
    """`incidents --format json` and `report --format json` over the past day."""
    inc = slaprobe("incidents", "--config", str(cfg), *RANGE, "--format", "json", cwd=cfg.parent)
    rep = slaprobe("report", "--config", str(cfg), *RANGE, "--format", "json", cwd=cfg.parent)
    assert inc.returncode == 0, inc.stderr
    assert rep.returncode == 0, rep.stderr
    return inc.stdout, rep.stdout


EDITS: list[dict[str, str]] = [
    {"app_critical": "false"},
    {"medium_resolution": "1h"},
    {"merge_gap": "1h"},
    {"timezone": "America/New_York"},
    {"hours": "10:00-18:00"},
    {"days": "wed-fri"},
    {"extra_holidays": "[2026-11-11]"},
    {"high_response": "1h"},
]


def test_past_incidents_and_figures_stay_byte_identical_after_each_edit(tmp_path: Path) -> None:
    cfg = imported(tmp_path / "kept")
    before = figures(cfg)
    doc = json.loads(before[0])
    assert [(i["id"], i["priority"]) for i in doc["incidents"]] == [
        ("inc-20261110T100000Z", "high"), ("inc-20261110T103000Z", "medium"),
        ("inc-20261110T105200Z", "medium")]
    assert json.loads(before[1])["service"]["down_seconds"] == 600.0
    edits: dict[str, str] = {}
    for k, edit in enumerate(EDITS):
        edits.update(edit)  # cumulative: each edit on top of the ones before
        config(cfg, **edits)
        after = figures(cfg)
        assert after[0] == before[0], f"incidents changed after {edit}"
        assert after[1] == before[1], f"report changed after {edit}"
        # the same checks under the edited terms from the start give other incidents
        fresh = imported(tmp_path / f"fresh{k}", **edit)
        assert figures(fresh)[0] != before[0], f"{edit} does not shape the incidents"


def test_terms_record_the_support_table_and_quorum(tmp_path: Path) -> None:
    cfg = imported(tmp_path / "h")
    config(cfg, merge_gap="1h")
    rep = slaprobe("report", "--config", str(cfg), "--from", "2026-11-10T00:00:00Z", "--to",
                   "now+1h", "--format", "json", cwd=cfg.parent)
    assert rep.returncode == 0, rep.stderr
    terms = json.loads(rep.stdout)["terms"]
    assert [t["support"]["merge_gap_seconds"] for t in terms] == [600.0, 3600.0]
    assert terms[0]["support"]["timezone"] == "Europe/London"
    assert terms[0]["support"]["medium"]["resolution_seconds"] == 2 * 8 * 3600.0
    assert terms[0]["quorum"] == 1
