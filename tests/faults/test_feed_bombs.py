"""Bounded feeds: a runaway recurrence rule is an error for its feed, never a hang.

Expansion is bounded while it runs (count and horizon) in a child process that is
killed on a time limit or when slaprobe stops; the feed's last good windows stay,
the daemon keeps answering and stops promptly on SIGTERM, `report` finishes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from pathlib import Path

import pytest
from clirun import assert_no_traceback, slaprobe
from procs import Daemon, Switch, free_port, write_config
from waits import until

from slaprobe.core.maintenance.feeds import MAX_OCCURRENCES, FeedError, parse_ics
from slaprobe.history.store import Store
from slaprobe.maintenance import feedfetch

pytestmark = pytest.mark.timeout(90)


def ics(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + "".join(
        events) + "END:VCALENDAR\r\n"


def event(uid: str, start: dt.datetime, minutes: int, rule: str | None = None) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    end = start + dt.timedelta(minutes=minutes)
    lines = [
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:19800101T000000Z", "CREATED:19800101T000000Z",
        f"DTSTART:{start.strftime(fmt)}", f"DTEND:{end.strftime(fmt)}",
        f"SUMMARY:{uid}",
    ]
    if rule:
        lines.append(f"RRULE:{rule}")
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
GOOD = ics(event("upgrade", NOW + dt.timedelta(days=3), 60))
# 1,440 a day for 90 days: far past the bound inside the horizon
MINUTELY = ics(event("minutely", NOW - dt.timedelta(hours=1), 1, "FREQ=MINUTELY"))
# a billion occurrences before the horizon even starts: only a time limit stops it
SECONDLY = ics(event("secondly", dt.datetime(1990, 1, 1, tzinfo=dt.UTC), 1, "FREQ=SECONDLY"))


def test_expansion_stops_at_the_bound_while_it_runs() -> None:
    lo = NOW.timestamp()
    started = time.monotonic()
    with pytest.raises(FeedError, match=f"more than {MAX_OCCURRENCES} occurrences"):
        parse_ics(MINUTELY.encode(), source="bomb.ics", horizon=(lo, lo + 90 * 86400))
    print(f"count bound hit after {time.monotonic() - started:.2f}s")


async def test_a_runaway_parse_is_stopped_by_its_time_limit() -> None:
    lo = NOW.timestamp()
    started = time.monotonic()
    with pytest.raises(FeedError, match="longer than 1s"):
        await feedfetch.parse_in_worker(
            SECONDLY.encode(), source="bomb.ics", content_type=None,
            horizon=(lo, lo + 90 * 86400), problems=[], seconds=1.0)
    assert time.monotonic() - started < 10


def _feed_config(tmp_path: Path, port: int, url: str, feed: Path) -> Path:
    return write_config(tmp_path / "probe.toml", port=port, extra=f"""
[slo]
maintenance_feeds = ["{feed}"]
maintenance_feed_interval = "1s"
""", targets=f"""
[[targets]]
name = "app"
url = "{url}/ok"
""")


async def _windows(d: Daemon) -> float:
    m = await d.metrics()
    return sum(v for (name, _), v in m.items() if name == "slaprobe_maintenance_windows")


async def test_a_feed_past_the_bound_fails_alone_and_keeps_its_last_good_windows(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    url, _ = target
    feed = tmp_path / "feed.ics"
    feed.write_text(GOOD)
    port = free_port()
    d = Daemon(_feed_config(tmp_path, port, url, feed), port)
    try:
        await d.launch()
        for _ in range(100):
            if await _windows(d) >= 1:
                break
            await asyncio.sleep(0.2)
        assert await _windows(d) == 1
        feed.write_text(MINUTELY)
        for _ in range(100):
            if "more than 10000 occurrences" in d.logs():
                break
            await asyncio.sleep(0.2)
        assert "more than 10000 occurrences" in d.logs()
        assert await _windows(d) == 1  # the last good window stays
        assert (await d.value("slaprobe_maintenance_feed_errors_total",
                              source=str(feed)) or 0) >= 1
        await d.wait_for_value("slaprobe_target_up", 1.0, target="app")
        d.signal(signal.SIGTERM)
        assert d.wait(10) == 0
    finally:
        d.stop()


def _feed_workers(parent: int) -> list[int]:
    """The pids of `parent`'s children that run the feed worker (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if ppid == parent and b"feedworker" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_sigterm_during_a_runaway_expansion_stops_promptly(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    """Before: the expansion ran in a thread, SIGTERM waited for it (minutes)."""
    url, _ = target
    feed = tmp_path / "feed.ics"
    feed.write_text(SECONDLY)
    port = free_port()
    d = Daemon(_feed_config(tmp_path, port, url, feed), port)
    try:
        await d.launch()
        assert d.proc is not None
        parent = d.proc.pid
        # the expansion is under way: the daemon's feed worker child is running
        assert await until(lambda: bool(_feed_workers(parent)), timeout=20, every=0.05), \
            d.logs()[-3000:]
        workers = _feed_workers(parent)
        started = time.monotonic()
        async with asyncio.timeout(5):
            await d.value("slaprobe_target_up", target="app")  # still answering
        assert time.monotonic() - started < 3
        d.signal(signal.SIGTERM)
        started = time.monotonic()
        assert d.wait(10) == 0
        print(f"stopped {time.monotonic() - started:.2f}s after SIGTERM")
        # nor left its worker running
        assert await until(lambda: not any(map(_running, workers)), timeout=5), workers
    finally:
        d.stop()


async def test_report_with_a_runaway_feed_finishes(tmp_path: Path) -> None:
    """Before: `report` expanded the rule to the end and never returned."""
    feed = tmp_path / "feed.ics"
    feed.write_text(SECONDLY)
    cfg = tmp_path / "probe.toml"
    cfg.write_text(f"""
[daemon]
database = "h.db"
[slo]
maintenance_feeds = ["{feed}"]
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
""")
    Store(tmp_path / "h.db").close()  # an (empty) history to report on
    started = time.monotonic()
    r = await slaprobe("report", "--config", str(cfg), "--from", "now-1d", "--to", "now",
                       cwd=tmp_path, timeout=60)
    assert_no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "longer than" in r.stderr and "feed.ics" in r.stderr
    assert time.monotonic() - started < 40
