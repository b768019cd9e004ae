"""Statements a customer can verify without the database (DESIGN "Terms, witnesses and
statements a customer can verify"), and the witnesses of the chain head a closed month
publishes: the real program end to end."""

from __future__ import annotations

import json
import re
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import Daemon, Switch, free_port, slaprobe, write_config

from slaprobe.core.evidence.chain import canonical, content_digest, record_digest
from slaprobe.core.evidence.statementfile import FIELDS, dump

pytestmark = pytest.mark.slow


async def _closed_october(tmp_path: Path, url: str, daemons: Callable[[Path, int], Daemon],
                          *, signing_key: str | None) -> tuple[Path, Daemon]:
    port = free_port()
    extra = "" if signing_key is None else f'[evidence]\nsigning_key = "{signing_key}"\n'
    cfg = write_config(tmp_path / "probe.toml", port=port, extra=extra, targets=f"""
[[targets]]
name = "app"
url = "{url}/"
interval = "60s"
""")
    rows = [f"app,2026-10-01T00:{m:02d}:00Z,{int(m % 7 != 3)}" for m in range(50)]
    (tmp_path / "oct.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    r = slaprobe("import", "oct.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = daemons(cfg, port)
    await d.launch()
    return cfg, d


async def test_export_verify_and_each_tampering(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    url, _ = target
    r = slaprobe("statement", "keygen", "--key", "vendor.pem", "--public-key", "vendor.pub",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE((tmp_path / "vendor.pem").stat().st_mode) == 0o600
    again = slaprobe("statement", "keygen", "--key", "vendor.pem", "--public-key", "x.pub",
                     cwd=tmp_path)
    assert again.returncode == 2 and "vendor.pem exists" in again.stderr
    assert not (tmp_path / "x.pub").exists()
    assert slaprobe("statement", "keygen", "--key", "other.pem", "--public-key", "other.pub",
                    cwd=tmp_path).returncode == 0

    cfg, d = await _closed_october(tmp_path, url, daemons, signing_key="vendor.pem")
    # the witnesses: the statement's chain record as a metric, the head as a log event
    m = await d.wait_until(lambda m: any(k[0] == "slaprobe_statement_info" for k in m),
                           "the statement's metric")
    series = [dict(k[1]) for k in m if k[0] == "slaprobe_statement_info"]
    assert len({s["month"] for s in series}) == len(series)  # one series per month
    [info] = [s for s in series if s["month"] == "2026-10"]
    assert re.fullmatch(r"[0-9a-f]{64}", info["digest"])
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    heads = [json.loads(line) for line in d.logs().splitlines()
             if line.startswith("{") and '"chain_head"' in line]
    # the head when the months closed (October, and November without checks: the latest)
    closing = [h for h in heads if h.get("month") == "2026-11"]
    assert closing and closing[0]["seq"] >= int(info["seq"]), d.logs()
    assert re.fullmatch(r"[0-9a-f]{64}", closing[0]["digest"])
    assert "vendor.pem" not in d.logs() and "PRIVATE KEY" not in d.logs()  # never logged

    r = slaprobe("verify", "--head", f"{info['seq']}:{info['digest']}", "--config", str(cfg),
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    report = slaprobe("report", "--month", "2026-10", "--format", "json", "--config", str(cfg),
                      cwd=tmp_path)
    assert report.returncode == 0
    r = slaprobe("statement", "export", "--month", "2026-10", "--config", str(cfg),
                 "--out", "oct.statement.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = slaprobe("statement", "export", "--month", "2026-10", "--config", str(cfg),
                   cwd=tmp_path)
    assert out.stdout == (tmp_path / "oct.statement.json").read_text()
    doc = json.loads(out.stdout)
    assert doc["statement"] == report.stdout  # byte for byte the report --month JSON
    assert doc["records"][-1]["kind"] == "statement"
    assert doc["signature"]["algorithm"] == "ed25519"
    no_month = slaprobe("statement", "export", "--month", "2026-12", "--config", str(cfg),
                        cwd=tmp_path)
    assert no_month.returncode == 2 and "2026-12 has no statement" in no_month.stderr

    # verify: no config, no database (run from elsewhere)
    elsewhere = tmp_path / "customer"
    elsewhere.mkdir()
    (elsewhere / "oct.json").write_text(out.stdout)
    (elsewhere / "vendor.pub").write_bytes((tmp_path / "vendor.pub").read_bytes())
    (elsewhere / "other.pub").write_bytes((tmp_path / "other.pub").read_bytes())
    ok = slaprobe("statement", "verify", "oct.json", "--public-key", "vendor.pub",
                  cwd=elsewhere)
    assert ok.returncode == 0, ok.stderr
    avail = json.loads(report.stdout)["service"]["availability"]
    assert f"service availability: {avail * 100:.4f}%" in ok.stdout
    assert "2026-10" in ok.stdout and "signature: valid" in ok.stdout
    app = json.loads(report.stdout)["targets"]["app"]["availability"]
    assert f"target app: availability {app * 100:.4f}%" in ok.stdout

    def refused(text: str, key: str = "vendor.pub") -> str:
        (elsewhere / "bad.json").write_text(text)
        r = slaprobe("statement", "verify", "bad.json", "--public-key", key, cwd=elsewhere)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""
        return r.stderr

    # one byte of a figure changed (the statement text, and also its chained copy)
    down = '\\"down_seconds\\": 420.0'
    assert down in out.stdout
    assert "does NOT verify" in refused(out.stdout.replace(down, '\\"down_seconds\\": 42.0', 1))
    # ... and the chained copy too, then its digests recomputed: only the signature holds
    forged = doc["statement"].replace('"down_seconds": 420.0', '"down_seconds": 42.0', 1)
    last = dict(doc["records"][-1], payload=canonical({"month": "2026-10", "report": forged}))
    bent = dict(doc, statement=forged, records=[*doc["records"][:-1], last])
    assert "payload does not match its content digest" in refused(dump(bent))
    last["content"] = content_digest(last["payload"])
    assert "does not match its digest" in refused(dump(bent))
    fields = tuple(last[k] for k in FIELDS[:8])
    last["digest"] = record_digest(last["prev"], fields)  # type: ignore[arg-type]
    assert "the signature is not by the key given" in refused(dump(bent))
    # a byte outside any value
    assert "the file was changed" in refused(out.stdout.replace('{\n "format"', '{\n  "format"'))
    # another key's signature
    assert "the signature is not by the key given" in refused(out.stdout, "other.pub")
    # a record missing
    cut = dict(doc, records=doc["records"][:1] + doc["records"][2:])
    assert "chain record #2 is missing" in refused(dump(cut))

    # without --public-key: everything but the signature, and it says so
    r = slaprobe("statement", "verify", "oct.json", cwd=elsewhere)
    assert r.returncode == 0 and "signature: not checked" in r.stdout


async def test_without_a_key_the_export_is_unsigned_and_verify_says_so(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    url, _ = target
    cfg, d = await _closed_october(tmp_path, url, daemons, signing_key=None)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    out = slaprobe("statement", "export", "--month", "2026-10", "--config", str(cfg),
                   cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["signature"] is None
    (tmp_path / "oct.json").write_text(out.stdout)
    r = slaprobe("statement", "verify", "oct.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "signature: not checked" in r.stdout and "unsigned" in r.stdout
    assert slaprobe("statement", "keygen", "--key", "k.pem", "--public-key", "k.pub",
                    cwd=tmp_path).returncode == 0
    r = slaprobe("statement", "verify", "oct.json", "--public-key", "k.pub", cwd=tmp_path)
    assert r.returncode == 1 and "the file is not signed" in r.stderr


def test_a_signing_key_that_cannot_be_read_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       extra='[evidence]\nsigning_key = "missing.pem"\n', targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
""")
    r = slaprobe("statement", "export", "--month", "2026-10", "--config", str(cfg),
                 cwd=tmp_path)
    assert r.returncode == 2
    assert f"evidence.signing_key: cannot read {tmp_path / 'missing.pem'}" in r.stderr
    (tmp_path / "missing.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n"
                                          "-----END PRIVATE KEY-----\n")
    r = slaprobe("statement", "export", "--month", "2026-10", "--config", str(cfg),
                 cwd=tmp_path)
    assert r.returncode == 2 and "is not an unencrypted PEM private key" in r.stderr
    assert "not a key" not in r.stderr  # the key's contents are never printed
    r = slaprobe("statement", "verify", "nothing.json", cwd=tmp_path)
    assert r.returncode == 2 and "cannot read nothing.json" in r.stderr
