"""`slaprobe incidents` and `slaprobe incidents ack` on a real imported history."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from procs import free_port, slaprobe, write_config

from slaprobe.core.timefmt import iso, parse_instant

pytestmark = pytest.mark.slow

SUPPORT = """
[support]
timezone = "Europe/London"
hours = "09:00-17:00"
days = "mon-fri"
holidays = "GB"
holidays_subdivision = "ENG"
merge_gap = "15m"
"""


def history(tmp_path: Path, *, support: str = SUPPORT) -> tuple[Path, float]:
    """A Friday-evening-to-Monday outage of `app` in Nov 2026, and `app` down right now."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), extra=support, targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "30s"

[[targets]]
name = "docs"
url = "http://127.0.0.1:9/docs"
interval = "30s"
critical = false
""")
    a, b = parse_instant("2026-11-27T16:00:00Z"), parse_instant("2026-11-30T11:00:00Z")
    down = parse_instant("2026-11-27T16:30:00Z"), parse_instant("2026-11-30T10:00:00Z")
    lines = ["target,time,ok"]
    at = a
    while at < b:
        lines.append(f"app,{at:.0f},{0 if down[0] <= at < down[1] else 1}")
        lines.append(f"docs,{at:.0f},1")
        at += 30
    now = (time.time() // 30) * 30
    open_start = now - 600
    for k in range(40):
        t = now - 1200 + k * 30
        lines.append(f"app,{t:.0f},{0 if t >= open_start else 1}")
    csv = tmp_path / "h.csv"
    csv.write_text("\n".join(lines) + "\n")
    r = slaprobe("import", str(csv), "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return cfg, open_start


def test_incidents_list_formats_and_ack(tmp_path: Path) -> None:
    cfg, open_start = history(tmp_path)
    r = slaprobe("incidents", "--config", str(cfg), "--month", "2026-11", "--format", "json",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["from"], doc["to"]) == ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    [inc] = doc["incidents"]
    assert inc == {
        "id": "inc-20261127T163000Z", "priority": "high", "start": "2026-11-27T16:30:00Z",
        "end": "2026-11-30T10:00:00Z", "seconds": 235800.0, "business_seconds": 5400.0,
        "targets": ["app"], "priority_since": "2026-11-27T16:30:00Z",
        "response_deadline": "2026-11-30T12:30:00Z", "acknowledged": None,
        "response": "breached", "resolution_deadline": "2026-11-30T16:30:00Z",
        "resolution": "met", "updates": [],
    }
    text = slaprobe("incidents", "--config", str(cfg), "--month", "2026-11", cwd=tmp_path)
    assert text.returncode == 0
    assert "inc-20261127T163000Z" in text.stdout and "met (by 2026-11-30T16:30:00Z)" in text.stdout
    assert "Europe/London, GB-ENG holidays" in text.stdout
    md = slaprobe("incidents", "--config", str(cfg), "--from", "2026-11-27", "--to",
                  "2026-11-28", "--format", "markdown", cwd=tmp_path)
    assert "| inc-20261127T163000Z | high |" in md.stdout

    # the open incident: listed in this month (default range), open, pending
    now_doc = json.loads(slaprobe("incidents", "--config", str(cfg), "--format", "json",
                                  cwd=tmp_path).stdout)
    [live] = [i for i in now_doc["incidents"] if i["end"] is None]
    open_id = live["id"]
    assert live["start"] == iso(open_start)

    # refusals: unknown id lists the open incidents, a typo gets a suggestion, before start
    bad = slaprobe("incidents", "ack", "inc-20200101T000000Z", "--config", str(cfg), cwd=tmp_path)
    assert bad.returncode == 2
    assert "no incident 'inc-20200101T000000Z'" in bad.stderr and open_id in bad.stderr
    typo = slaprobe("incidents", "ack", open_id[:-2] + "Z", "--config", str(cfg), cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean" in typo.stderr
    early = slaprobe("incidents", "ack", open_id, "--at", iso(open_start - 60), "--config",
                     str(cfg), cwd=tmp_path)
    assert early.returncode == 2 and "before" in early.stderr
    assert "Traceback" not in bad.stderr + typo.stderr + early.stderr

    ok = slaprobe("incidents", "ack", open_id, "--by", "alice", "--note", "looking",
                  "--at", "now-1m", "--config", str(cfg), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert f"acknowledged {open_id}" in ok.stdout and "by alice" in ok.stdout
    again = slaprobe("incidents", "ack", open_id, "--by", "bob", "--config", str(cfg),
                     cwd=tmp_path)
    assert again.returncode == 0 and "the first one counts" in again.stdout
    after = json.loads(slaprobe("incidents", "--config", str(cfg), "--format", "json",
                                cwd=tmp_path).stdout)
    [live] = [i for i in after["incidents"] if i["id"] == open_id]
    assert live["acknowledged"] is not None and live["response"] == "met"

    # the SLA report carries the same incidents in every format
    rep = json.loads(slaprobe("report", "--config", str(cfg), "--month", "2026-11", "--format",
                              "json", cwd=tmp_path).stdout)
    assert rep["incidents"] == doc["incidents"]
    rtext = slaprobe("report", "--config", str(cfg), "--month", "2026-11", cwd=tmp_path).stdout
    assert "Incidents (1)" in rtext and "inc-20261127T163000Z" in rtext
    rmd = slaprobe("report", "--config", str(cfg), "--month", "2026-11", "--format", "markdown",
                   cwd=tmp_path).stdout
    assert "## Incidents" in rmd and "| inc-20261127T163000Z | high |" in rmd


def test_without_support_the_defaults_apply_and_say_so(tmp_path: Path) -> None:
    cfg, _ = history(tmp_path, support="")
    r = slaprobe("incidents", "--config", str(cfg), "--month", "2026-11", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "the defaults (Mon-Fri 09:00-17:00 UTC, no holidays; the config has no [support])" \
        in r.stdout
    rep = slaprobe("report", "--config", str(cfg), "--month", "2026-11", cwd=tmp_path).stdout
    assert "the config has no [support]" in rep


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    cfg, _ = history(tmp_path)
    for args in (["--month", "2026-13"], ["--to", "2026-11-01"], ["--from", "tomorrow"],
                 ["--month", "2026-11", "--to", "2026-12-01"]):
        r = slaprobe("incidents", "--config", str(cfg), *args, cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    r = slaprobe("incidents", "ack", "x", "--at", "yesterday", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "--at" in r.stderr


def test_updates_timeline_response_and_verify(tmp_path: Path) -> None:
    cfg, _ = history(tmp_path)
    db = tmp_path / "history.db"
    old = "inc-20261127T163000Z"
    # an unknown id is refused, listing the open incidents; nothing is written
    now_doc = json.loads(slaprobe("incidents", "--config", str(cfg), "--format", "json",
                                  cwd=tmp_path).stdout)
    [open_id] = [i["id"] for i in now_doc["incidents"] if i["end"] is None]
    bad = slaprobe("incidents", "update", "inc-20200101T000000Z", "--status", "identified",
                   "--text", "x", "--config", str(cfg), cwd=tmp_path)
    assert bad.returncode == 2, bad.stderr
    assert "no incident 'inc-20200101T000000Z'" in bad.stderr and open_id in bad.stderr
    for args in (["--status", "fixed", "--text", "x"], ["--status", "resolved", "--text", " "],
                 ["--status", "resolved", "--text", "x", "--at", "yesterday"]):
        r = slaprobe("incidents", "update", old, *args, "--config", str(cfg), cwd=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM chain WHERE kind = 'incident_update'"
                         ).fetchone() == (0,)

    # three updates of the old incident, stored out of time order: listed in time order
    texts = [("2026-11-30T09:00:00Z", "monitoring", "fix deployed, <watching>", "carol"),
             ("2026-11-27T17:00:00Z", "investigating", "Login fails | \"500\"\nfor all", "alice"),
             ("2026-11-28T10:00:00Z", "identified", "a bad *migration*", "bob")]
    for at, status, text, by in texts:
        r = slaprobe("incidents", "update", old, "--status", status, "--text", text, "--at", at,
                     "--by", by, "--config", str(cfg), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert f"updated {old} at {at} by {by}: {status}" in r.stdout
    doc = json.loads(slaprobe("incidents", "--config", str(cfg), "--month", "2026-11",
                              "--format", "json", cwd=tmp_path).stdout)
    [inc] = doc["incidents"]
    assert inc["updates"] == [
        {"at": "2026-11-27T17:00:00Z", "status": "investigating",
         "text": 'Login fails | "500"\nfor all', "by": "alice"},
        {"at": "2026-11-28T10:00:00Z", "status": "identified", "text": "a bad *migration*",
         "by": "bob"},
        {"at": "2026-11-30T09:00:00Z", "status": "monitoring", "text": "fix deployed, <watching>",
         "by": "carol"}]
    # the first update counts as the response (no acknowledgement came earlier): met, as
    # 17:00 on Friday is outside business hours and the deadline is Monday 12:30
    assert inc["acknowledged"] == "2026-11-27T17:00:00Z" and inc["response"] == "met"
    # an update never changes a measured figure
    before = {k: v for k, v in inc.items() if k not in ("updates", "acknowledged", "response")}
    assert before == {
        "id": old, "priority": "high", "start": "2026-11-27T16:30:00Z",
        "end": "2026-11-30T10:00:00Z", "seconds": 235800.0, "business_seconds": 5400.0,
        "targets": ["app"], "priority_since": "2026-11-27T16:30:00Z",
        "response_deadline": "2026-11-30T12:30:00Z", "resolution_deadline":
        "2026-11-30T16:30:00Z", "resolution": "met"}
    rep = json.loads(slaprobe("report", "--config", str(cfg), "--month", "2026-11", "--format",
                              "json", cwd=tmp_path).stdout)
    assert rep["incidents"] == doc["incidents"]

    text = slaprobe("incidents", "--config", str(cfg), "--month", "2026-11", cwd=tmp_path).stdout
    lines = text.splitlines()
    i = lines.index(f"  Updates of {old}")
    assert lines[i + 1].split()[:2] == ["2026-11-27T17:00:00Z", "investigating"]
    assert 'Login fails | "500" for all  (alice)' in lines[i + 1]  # one line per update
    assert lines[i + 3].split()[1] == "monitoring"
    md = slaprobe("incidents", "--config", str(cfg), "--month", "2026-11", "--format",
                  "markdown", cwd=tmp_path).stdout
    assert "- 2026-11-28T10:00:00Z **identified**: a bad \\*migration\\* (bob)" in md
    assert "fix deployed, &lt;watching&gt;" in md
    html = slaprobe("report", "--config", str(cfg), "--month", "2026-11", "--format", "html",
                    cwd=tmp_path).stdout
    assert "fix deployed, &lt;watching&gt;" in html and "<watching>" not in html
    assert html.index("Login fails") < html.index("a bad *migration*") < html.index("fix deployed")

    ok = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # an update edited from outside: verify names it
    with sqlite3.connect(db) as c:
        c.execute("UPDATE chain SET payload = replace(payload, 'a bad', 'no') WHERE kind ="
                  " 'incident_update' AND payload LIKE '%a bad%'")
    broken = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert broken.returncode == 1
    assert "incident_update" in broken.stdout + broken.stderr
    assert "changed outside slaprobe" in broken.stdout + broken.stderr
def test_ack_by_and_incident_id_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    """`--by` and a mistyped incident id with terminal escape sequences (clear screen,
    an OSC title, BEL) are shown visibly, never acted on."""
    control = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
    cfg, _ = history(tmp_path)
    now_doc = json.loads(slaprobe("incidents", "--config", str(cfg), "--format", "json",
                                  cwd=tmp_path).stdout)
    [live] = [i for i in now_doc["incidents"] if i["end"] is None]
    bad = slaprobe("incidents", "ack", "inc-\x1b[2J\x1b]0;pwned\x07", "--config", str(cfg),
                   cwd=tmp_path)
    assert bad.returncode == 2 and not control.search(bad.stdout + bad.stderr), bad.stderr
    ok = slaprobe("incidents", "ack", live["id"], "--by", "eve\x1b[2J\x1b]0;pwned\x07\x9b",
                  "--note", "n\x1b[31m", "--config", str(cfg), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert not control.search(ok.stdout + ok.stderr) and "\\x1b[2J" in ok.stdout, ok.stdout
    again = slaprobe("incidents", "ack", live["id"], "--by", "bob", "--config", str(cfg),
                     cwd=tmp_path)
    assert again.returncode == 0 and not control.search(again.stdout), again.stdout
    for fmt in ("text", "markdown"):
        r = slaprobe("incidents", "--config", str(cfg), "--format", fmt, cwd=tmp_path)
        assert r.returncode == 0 and not control.search(r.stdout), r.stdout
