"""A probe error is a recorded outcome, never a crash.

Failures of the target map to an error kind with a detail naming the cause
(TLS handshake to a plain port: tls_error; HTTP violations: protocol_error). An
exception slaprobe did not expect is a check of unknown outcome (probe_error):
stored, counted, logged once with its type, its time unknown, never down.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import structlog
from clirun import assert_no_traceback, slaprobe
from promtext import Scrape
from rawhttp import BAD_CHUNK, GARBAGE, PLAIN_OK, big_header, raw_server
from waits import until

from slaprobe.config import parse
from slaprobe.core.model import ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon
from slaprobe.probe import prober

pytestmark = pytest.mark.timeout(60)


def spec(url: str) -> ProbeSpec:
    return ProbeSpec(name="t", url=url, retries=0, timeout=3.0)


async def test_https_to_a_plain_http_port_is_a_tls_error() -> None:
    async with raw_server(PLAIN_OK) as port:
        a = await prober.attempt(spec(f"https://127.0.0.1:{port}/"))
    assert a.error is ErrorKind.TLS_ERROR
    assert a.detail.startswith("TLS handshake: ")
    assert "WRONG_VERSION_NUMBER" in a.detail or "record" in a.detail.lower()


@pytest.mark.parametrize(("payload", "cause"), [
    (big_header(), "more than 8190 bytes"),
    (BAD_CHUNK, "chunk size"),
    (GARBAGE, "status line"),
], ids=["oversize-header", "bad-chunking", "not-http"])
async def test_http_violations_are_protocol_errors_naming_the_cause(
    payload: bytes, cause: str,
) -> None:
    async with raw_server(payload) as port:
        a = await prober.attempt(spec(f"http://127.0.0.1:{port}/"))
    assert a.error is ErrorKind.PROTOCOL_ERROR, a
    assert a.detail.startswith("invalid HTTP response: ")
    assert cause in a.detail.lower() or cause in a.detail, a.detail
    assert "aaaa" not in a.detail  # the offending bytes are not quoted


async def test_once_reports_tls_and_protocol_errors_without_a_traceback(tmp_path: Path) -> None:
    async with raw_server(PLAIN_OK) as plain, raw_server(BAD_CHUNK) as chunky:
        cfg = tmp_path / "probe.toml"
        cfg.write_text(f"""
[daemon]
database = "h.db"
[defaults]
retries = 0
timeout = "3s"
[[targets]]
name = "tls"
url = "https://127.0.0.1:{plain}/"
[[targets]]
name = "chunky"
url = "http://127.0.0.1:{chunky}/"
critical = false
""")
        r = await slaprobe("once", "--config", str(cfg), cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 1, r.stdout + r.stderr  # the critical target is down
    assert "DOWN (tls_error)" in r.stdout
    assert "DOWN (protocol_error)" in r.stdout
    assert "chunk size" in r.stdout


async def wait_for(pred: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_daemon_records_a_tls_failure_as_down(tmp_path: Path) -> None:
    """Before: AttributeError in classification, job_failed, nothing recorded, up NaN."""
    async with raw_server(PLAIN_OK) as port:
        cfg = parse({
            "daemon": {"database": str(tmp_path / "h.db")},
            "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
            "targets": [{"name": "app", "url": f"https://127.0.0.1:{port}/"}],
        }, env={})
        d = await Daemon.open(cfg, env={})
        await d.start()
        try:
            await wait_for(lambda: "app" in d.rooms.recorder.last)
            m = Scrape(await d.rooms.exporter.render())
            assert m.value("slaprobe_probes_total", {"target": "app", "result": "tls_error"})
            assert d.tracker.probe_state("app", d.clock.now()) is not None
            assert m.value("slaprobe_target_up", {"target": "app"}) == 0.0
        finally:
            await d.shutdown()
    store = Store(tmp_path / "h.db")
    try:
        checks = store.checks("app", 0, 4e9)
    finally:
        store.close()
    assert checks and all(c.error == "tls_error" and not c.ok and not c.unknown for c in checks)


async def test_an_unexpected_exception_is_a_check_of_unknown_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in probing (injected: the one thing not reproducible with a real target)
    is stored as unknown with reason probe_error, counted, logged once with its type;
    the target is never down and its time is unknown."""
    async with raw_server(PLAIN_OK) as port:
        async def broken(*_: object) -> bytes:
            raise KeyError("secret-token-in-message")

        monkeypatch.setattr(prober, "_fetch", broken)
        cfg = parse({
            "daemon": {"database": str(tmp_path / "h.db")},
            "defaults": {"interval": "1s", "timeout": "150ms", "retries": 1,
                         "retry_interval": "10ms"},
            "targets": [{"name": "app", "url": f"http://127.0.0.1:{port}/"}],
        }, env={})
        d = await Daemon.open(cfg, env={})
        with structlog.testing.capture_logs() as logs:
            await d.start()
            try:
                async def unknown_at_least(n: int) -> bool:
                    m = Scrape(await d.rooms.exporter.render())
                    return (m.value("slaprobe_unknown_checks_total",
                                    {"target": "app", "reason": "probe_error"}) or 0) >= n

                assert await until(lambda: unknown_at_least(2))
                m = Scrape(await d.rooms.exporter.render())
                now = d.clock.now()
                assert d.tracker.probe_state("app", now) is None
                figures = d.tracker.target_figures("app", now - 60, now, now)
                assert figures.down == 0 and figures.up == 0
                assert figures.availability is None
                up = m.value("slaprobe_target_up", {"target": "app"})
                assert up is not None and up != up  # NaN  # noqa: PLR0124
                assert (m.value("slaprobe_probes_total",
                                {"target": "app", "result": "probe_error"}) or 0) >= 4
            finally:
                await d.shutdown()
    events = [e for e in logs if e.get("target") == "app" and e["log_level"] != "debug"]
    unknown = [e for e in events if e["event"] == "target_unknown"]
    assert len(unknown) == 1, events
    assert unknown[0]["reason"] == "probe_error" and "KeyError" in unknown[0]["detail"]
    assert "secret-token" not in repr(logs)
    assert not [e for e in logs if e["event"] == "job_failed"]
    store = Store(tmp_path / "h.db")
    try:
        checks = store.checks("app", 0, 4e9)
        history = store.load("app", 0)
    finally:
        store.close()
    assert checks and all(c.unknown and c.error == "probe_error" and not c.ok for c in checks)
    assert len(history.spans) == 0 and history.open is not None and history.open.state is None


async def test_check_refuses_url_credentials_with_an_authorization_header(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "probe.toml"
    cfg.write_text("""
[[targets]]
name = "app"
url = "https://user:hunter2@app.example.com/health"
headers = { Authorization = "Bearer x" }
[[targets]]
name = "v6"
url = "http://[::1/health"
[[targets]]
name = "v6b"
url = "http://[::1]x/health"
[[targets]]
name = "hdr"
url = "http://127.0.0.1/"
headers = { "Bad Name" = "x" }
""")
    r = await slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 2
    assert "targets[0].headers.Authorization: cannot be combined with credentials" in r.stderr
    assert "targets[1].url: invalid URL" in r.stderr and "IPv6" in r.stderr
    assert "targets[2].url: invalid URL" in r.stderr
    assert "targets[3].headers.Bad Name: is not a valid HTTP header name" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout
