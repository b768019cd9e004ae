"""/status/feed.atom on a real daemon: valid Atom 1.0 for a real feed parser, the open
incident and the announced maintenance as entries, ids stable, an update one more entry."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import feedparser
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from faultserver import FaultServer
from test_status_api import _dt, _get, poll
from waits import until

from slaprobe.config import parse
from slaprobe.history.store import Store
from slaprobe.incidents import updates
from slaprobe.ops.daemon import Daemon
from slaprobe.web import badgeviews, server


@pytest.fixture
async def daemon(tmp_path: Path, fault_server: FaultServer) -> AsyncIterator[tuple[Daemon, str]]:
    now = time.time()
    url = fault_server.url
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db"), "service": "Clone<Ner> & co"},
        "defaults": {"interval": "1s", "timeout": "150ms", "retries": 0},
        "targets": [{"name": "app", "url": url("/ok")},
                    {"name": "docs", "url": url("/status/503"), "critical": False}],
        "maintenance": [{"id": "soon", "start": _dt(now + 3 * 86400),
                         "end": _dt(now + 3 * 86400 + 3600), "announced": _dt(now - 60),
                         "reason": "<b>DB</b> upgrade"}],
    }, env={})
    d = await Daemon.open(cfg, env={})
    await d.start()
    app = server.make_app(d.rooms.exporter.render, lambda: d.ready,
                          routes=badgeviews.Badges(d, ttl=0.0).routes())
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        assert await poll(lambda: len(d.last) == 2)
        yield d, str(srv.make_url(""))
    finally:
        await srv.close()
        await d.shutdown(None)


async def test_feed_is_valid_atom_with_stable_ids(daemon: tuple[Daemon, str],
                                                  tmp_path: Path) -> None:
    d, base = daemon
    async with ClientSession() as s:

        async def fetch() -> feedparser.FeedParserDict:
            status, headers, body = await _get(s, f"{base}/status/feed.atom")
            assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
            assert b"<b>" not in body and b"&lt;b&gt;DB&lt;/b&gt; upgrade" in body
            return feedparser.parse(body)

        async def opened() -> bool:
            return any("opened" in e.title for e in (await fetch()).entries)

        assert await until(opened, timeout=15, every=0.1)
        f1 = await fetch()
        assert f1.bozo == 0, f1.get("bozo_exception")
        assert f1.version == "atom10"
        assert f1.feed.title == "Clone<Ner> & co status"
        assert f1.feed.id.startswith("urn:uuid:")
        titles = [e.title for e in f1.entries]
        [inc] = [e for e in f1.entries if "opened" in e.title]
        iid = inc.title.split()[1]
        assert iid.startswith("inc-") and "medium priority, docs" in inc.title
        assert any(t.startswith("Maintenance soon:") for t in titles)
        [m] = [e for e in f1.entries if e.title.startswith("Maintenance soon")]
        assert "announced in time" in m.summary and "<b>DB</b> upgrade" in m.summary
        assert all(e.id.startswith("urn:uuid:") and e.updated for e in f1.entries)
        f2 = await fetch()
        assert [e.id for e in f2.entries] == [e.id for e in f1.entries]

        writer = Store(str(tmp_path / "h.db"))  # as `slaprobe incidents update` does
        try:
            updates.record(writer, iid, at=time.time(), status="identified",
                           text="docs <server> & cache", by="Zoë", now=time.time())
        finally:
            writer.close()
        f3 = await fetch()
    assert f3.bozo == 0
    new = [e for e in f3.entries if e.id not in {x.id for x in f1.entries}]
    assert len(new) == 1 and len(f3.entries) == len(f1.entries) + 1
    assert new[0].title == f"Incident {iid}: identified"
    assert new[0].summary == "docs <server> & cache" and new[0].author == "Zoë"
    assert f3.entries[0].id == new[0].id  # newest first
    assert d.cfg.daemon.service == "Clone<Ner> & co"
