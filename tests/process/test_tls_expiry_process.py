"""Certificate expiry end to end: `slaprobe once`, the daemon (/metrics, /status, the
certificate badge) and `status export` against
a local TLS server whose leaf expires in 5 days under a longer-lived intermediate (trustme),
trusted through SSL_CERT_FILE as Python's ssl honours it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import trustme
from faultserver import FaultServer, serve
from procs import Daemon, free_port, sample, slaprobe, write_config

from slaprobe.core.reporting import badges

pytestmark = pytest.mark.slow


@pytest.fixture
def leaf_end() -> dt.datetime:
    """When the leaf expires: 5 days from when the test starts (not from when the suite
    was collected, which may be many minutes earlier)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=5)


@pytest.fixture
async def tls_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaf_end: dt.datetime
                     ) -> AsyncIterator[FaultServer]:
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("127.0.0.1", not_after=leaf_end)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    root.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the children inherit it
    async with serve(ssl_context=ctx) as server:
        yield server


async def run_cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slaprobe", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def badge(body: bytes) -> tuple[str, float]:
    """(value text, days in data-value) of a certificate badge parsed as SVG."""
    root = ET.fromstring(body)
    ns = "{http://www.w3.org/2000/svg}"
    [value] = [t for t in root.iter(f"{ns}text") if t.get("class") == "value"]
    return value.text or "", float(json.loads(root.get("data-value") or "null"))


def config(tmp_path: Path, server: FaultServer, port: int) -> Path:
    return write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "secure"
url = "{server.url('/ok')}"

[[targets]]
name = "plain"
url = "http://127.0.0.1:{free_port()}/"
critical = false
""")


async def test_once_shows_days_left(tmp_path: Path, tls_target: FaultServer) -> None:
    rc, out, err = await run_cli("once", "--config", str(config(tmp_path, tls_target,
                                                                free_port())), cwd=tmp_path)
    assert rc == 0, out + err
    header = next(line for line in out.splitlines() if line.startswith("target"))
    assert "cert" in header.split()
    secure = next(line for line in out.splitlines() if line.startswith("secure"))
    plain = next(line for line in out.splitlines() if line.startswith("plain"))
    assert secure.split()[6] == "5.0d", out
    assert "DOWN (connect_error)" in plain and plain.split()[7] == "-", out


async def test_daemon_serves_both_expiries_and_status_days(
        tmp_path: Path, tls_target: FaultServer, leaf_end: dt.datetime,
        daemons: Callable[[Path, int], Daemon]) -> None:
    port = free_port()
    d = daemons(config(tmp_path, tls_target, port), port)
    await d.launch()
    end = leaf_end.timestamp()
    leaf, chain = ("slaprobe_tls_leaf_expiry_timestamp_seconds",
                   "slaprobe_tls_chain_expiry_timestamp_seconds")
    m = await d.wait_until(lambda m: sample(m, leaf, target="secure") != 0.0,
                           "the TLS target's certificate seen")
    assert sample(m, leaf, target="secure") == end
    assert sample(m, chain, target="secure") == end  # the CAs last until 3000
    assert (leaf, (("target", "plain"),)) not in m  # no certificate, no series
    assert sample(m, "slaprobe_target_up", target="secure") == 1.0
    async with aiohttp.ClientSession() as s, s.get(f"{d.url}/status") as r:
        page = await r.text()
    assert "certificate left" in page
    assert ">5.0d<" in page, page[:3000]
    # recorded in the history (by housekeeping) and shown by the report
    await d.wait_until(lambda _: any(e.get("target") == "secure"
                                     for e in d.events("certificate_seen")),
                       "the certificate recorded")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{d.url}/badge/secure/certificate.svg") as r:
            assert r.status == 200 and r.content_type == "image/svg+xml"
            assert "max-age=" in r.headers["Cache-Control"]
            served = await r.read()
        for scope in ("plain", "service", "nope"):  # not TLS, the service, no such target
            async with s.get(f"{d.url}/badge/{scope}/certificate.svg") as r:
                assert r.status == 404, scope
    d.stop()
    r = slaprobe("report", "--config", str(d.config), "--from", "now-1h", "--to", "now",
                 "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert set(rep["certificates"]) == {"secure"}
    secure = rep["certificates"]["secure"]
    assert secure["leaf_not_after"] == secure["chain_not_after"] == leaf_end.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert 4.99 < secure["days_left"] <= 5.0
    # the badge: the same days as the report (computed moments apart), yellow under 14
    text, value = badge(served)
    assert abs(value - secure["days_left"]) < 0.01
    assert text == badges.certificate_text(value) in ("4.9 days", "5.0 days")
    assert f'fill="{badges.YELLOW}"'.encode() in served
    site = tmp_path / "site"
    exported = slaprobe("status", "export", str(site), "--config", str(d.config), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    text, value = badge((site / "badge/secure/certificate.svg").read_bytes())
    assert abs(value - secure["days_left"]) < 0.01
    assert text == badges.certificate_text(value) in ("4.9 days", "5.0 days")
    assert not (site / "badge/plain/certificate.svg").exists()
    assert not (site / "badge/service/certificate.svg").exists()
    text = slaprobe("report", "--config", str(d.config), "--from", "now-1h", "--to", "now",
                    cwd=tmp_path).stdout
    assert "Certificates (days left at the end of the range)" in text
    not_after = leaf_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    md = slaprobe("report", "--config", str(d.config), "--from", "now-1h", "--to", "now",
                  "--format", "markdown", cwd=tmp_path).stdout
    assert "## Certificates" in md
    section = md.split("## Certificates", 1)[1].split("\n## ", 1)[0]
    [row] = [line for line in section.splitlines() if line.startswith("| secure |")]
    assert row.split(" | ")[2:] == [not_after, not_after + " |"], row
    html = slaprobe("report", "--config", str(d.config), "--from", "now-1h", "--to", "now",
                    "--format", "html", cwd=tmp_path).stdout
    assert "<h2>Certificates</h2>" in html and not_after in html
    verified = slaprobe("verify", "--config", str(d.config), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
