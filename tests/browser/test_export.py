"""`slaprobe status export DIR` opened from disk in headless chromium.

A real history (SQLite, checks of the last two days with an outage, an incident with
three updates given out of time order, maintenance past and upcoming), exported by the
real command. Checked: the page's figures are the report JSON's; nothing is fetched
(the DevTools protocol sees only the page); no horizontal overflow at 1280 and 390 px;
the incident's timeline in time order and escaped; the feed and the badges beside it; a
second export replaces the folder with ids unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import feedparser
import pytest
from chromium import BINARY, devtools, file_url, ink

from slaprobe.core.model import Check
from slaprobe.core.timefmt import iso, month_start, parse_instant
from slaprobe.history.store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BINARY is None, reason="chromium missing (Debian package chromium; "
                                              ".ci/run installs it)"),
]
WIDTHS = (1280, 390)
HOSTILE = '<img src="https://example.invalid/x.png"> & "quotes"'


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "slaprobe", *args], cwd=cwd, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return r


def toml_time(at: float) -> str:
    return dt.datetime.fromtimestamp(round(at), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_history(tmp_path: Path) -> tuple[Path, str, float]:
    """(config, the incident's id, the outage start)."""
    now = math.floor(time.time() / 30) * 30
    start = now - 2 * 86400
    down = (now - 86400, now - 86400 + 1800)  # 30 minutes, a day ago
    cfg = tmp_path / "probe.toml"
    cfg.write_text(f"""
[daemon]
database = "h.db"
service = "Clone<Ner>"

[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "30s"

[[targets]]
name = "a-target-with-a-rather-long-name-for-phones"
url = "http://127.0.0.1:9/long"
interval = "30s"
critical = false

[[maintenance]]
id = "past-upgrade"
start = {toml_time(now - 6 * 3600)}
end = {toml_time(now - 5 * 3600)}
announced = {toml_time(now - 5 * 86400)}
targets = ["app"]
reason = "Database <upgrade>"

[[maintenance]]
id = "rushed"
start = {toml_time(now + 3600)}
end = {toml_time(now + 7200)}
announced = {toml_time(now - 60)}
reason = "Hotfix"
""")
    store = Store(str(tmp_path / "h.db"))
    try:
        checks = []
        at = start
        while at < now - 300:
            checks.append(Check("app", at, not down[0] <= at < down[1], 30.0, latency=0.05))
            checks.append(Check("a-target-with-a-rather-long-name-for-phones", at, True, 30.0,
                                latency=0.08))
            at += 30
        store.write(checks)
    finally:
        store.close()
    inc = "inc-" + dt.datetime.fromtimestamp(down[0], dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for offset, status, text in ((1500, "monitoring", "Fix deployed; watching."),
                                 (120, "investigating", HOSTILE),
                                 (900, "identified", "A bad\nmigration.")):
        cli("incidents", "update", inc, "--status", status, "--text", text, "--at",
            iso(down[0] + offset), "--by", "Zoë <ops>", "--config", str(cfg), cwd=tmp_path)
    return cfg, inc, down[0]


@pytest.fixture(name="exported")
def _exported(tmp_path: Path) -> tuple[Path, Path, str]:
    cfg, inc, _ = make_history(tmp_path)
    out = tmp_path / "site"
    r = cli("status", "export", str(out), "--config", str(cfg), cwd=tmp_path)
    assert "wrote" in r.stdout
    return cfg, out, inc


async def _look(url: str) -> dict[int, dict[str, Any]]:
    out = {}
    async with devtools() as tab:
        for width in WIDTHS:
            await tab.open(url, width)
            out[width] = {
                "sw": await tab.value("document.documentElement.scrollWidth"),
                "cw": await tab.value("document.documentElement.clientWidth"),
                "requested": tab.requested(),
                "ink": ink(await tab.screenshot())[0],
                "figures": await tab.value(
                    "Object.fromEntries([...document.querySelectorAll('[data-figure]')]"
                    ".map(c => [c.dataset.figure, c.querySelector('data')?.value ?? null]))"),
                "asof": await tab.value("document.querySelector('p.sub').textContent"),
                "timeline": await tab.value(
                    "[...document.querySelectorAll('div.incident')].map(d => [d.dataset.id, "
                    "[...d.querySelectorAll('li')].map(li => [li.dataset.status, "
                    "li.querySelector('time').getAttribute('datetime'), "
                    "li.querySelector('p').textContent])])"),
                "imgs": await tab.value("document.images.length"),
                "scripts": await tab.value("document.scripts.length"),
                "links": await tab.value(
                    "[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"),
            }
    return out


async def test_exported_site_in_the_browser(exported: tuple[Path, Path, str],
                                            tmp_path: Path) -> None:
    cfg, out, inc = exported
    index = out / "index.html"
    url = file_url(index)
    seen = await _look(url)
    for width, v in seen.items():
        assert v["sw"] <= v["cw"], f"horizontal overflow at {width} px: {v['sw']} > {v['cw']}"
        assert v["requested"] == [url], v["requested"]  # nothing else fetched
        assert v["ink"] > 0.03
        assert v["imgs"] == 0 and v["scripts"] == 0  # the hostile <img> is text
    v = seen[1280]
    assert v["links"] == ["feed.atom"]  # relative, beside the page
    assert (out / "feed.atom").is_file()

    # the figures are the report JSON's for this month up to the page's time
    asof = v["asof"].split()[2]
    m0 = iso(month_start(parse_instant(asof)))
    rep = json.loads(cli("report", "--from", m0, "--to", asof, "--format", "json", "--config",
                         str(cfg), cwd=tmp_path).stdout)
    s = rep["service"]
    assert json.loads(v["figures"]["service availability"]) == s["availability"]
    assert json.loads(v["figures"]["downtime"]) == s["down_seconds"]
    assert json.loads(v["figures"]["excluded"]) == s["excluded_seconds"]

    # the incident's timeline in time order, its texts as text
    [items] = [t[1] for t in v["timeline"] if t[0] == inc]
    times = [at for _, at, _ in items]
    assert times == sorted(times) and len(set(times)) == 3
    assert [st for st, _, _ in items] == ["investigating", "identified", "monitoring"]
    assert items[0][2] == HOSTILE and items[1][2] == "A bad\nmigration."
    incs = json.loads(cli("incidents", "--format", "json", "--from", "now-3d", "--config",
                          str(cfg), cwd=tmp_path).stdout)["incidents"]
    [want] = [i for i in incs if i["id"] == inc]
    assert [(u["status"], u["at"], u["text"]) for u in want["updates"]] == \
        [tuple(x) for x in items]

    # the badges beside the page: this month's the same figure
    root = ET.parse(out / "badge" / "service" / "availability" / "month.svg").getroot()
    month_rep = json.loads(cli("report", "--from", m0, "--to", "now", "--format", "json",
                               "--config", str(cfg), cwd=tmp_path).stdout)
    assert json.loads(root.get("data-value") or "") == month_rep["service"]["availability"]
    assert (out / "badge" / "app" / "state.svg").is_file()
    assert (out / "badge" / "a-target-with-a-rather-long-name-for-phones" / "availability" /
            "30d.svg").is_file()

    # the feed parses; a second export replaces the folder, entry ids unchanged
    f1 = feedparser.parse((out / "feed.atom").read_bytes())
    assert f1.bozo == 0 and len([e for e in f1.entries if inc in e.title]) == 5
    stale = out / "badge" / "gone.svg"
    stale.write_text("x")
    cli("status", "export", str(out), "--config", str(cfg), cwd=tmp_path)
    f2 = feedparser.parse((out / "feed.atom").read_bytes())
    assert [e.id for e in f2.entries] == [e.id for e in f1.entries]
    assert not stale.exists()  # the whole folder is the new export
    assert leftovers(tmp_path) == []  # no temporary folder left beside it


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".site"))
