"""Every output escapes for its medium: a history and config full of hostile strings
(maintenance ids, iCal UIDs, Statuspage ids, reasons, the service name, notes, `--by`)
rendered in every format; nothing a terminal acts on, no markdown row or cell split,
no HTML."""

from __future__ import annotations

import dataclasses
import json
import re

import reportcase

from slaprobe.config import parse
from slaprobe.core.escaping import for_markdown, for_terminal, markdown_row
from slaprobe.core.incidents.rules import Support
from slaprobe.core.reporting.textable import table
from slaprobe.incidents import stored as incidents
from slaprobe.reporting import report

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a|b|c",
    "x\n| INJECTED | row |",
    "x\r\nINJECTED",
    "`code` ``` fence",
    "\x1b[2J\x1b]0;pwned title\x07",
    "\x9b31mC1 CSI\x85NEL",
    "bell\x07del\x7fnul\x00",
    "[click](javascript:alert(1))",
    "\u202eevil bidi",
]
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]")  # all but the newline


def _hostile_case() -> tuple[dict[str, object], str]:
    cfg = reportcase.config()
    service = " ".join(HOSTILE)
    tr = reportcase.tracker()
    rep = report.build(cfg, tr, reportcase.A, reportcase.B, reportcase.NOW)
    # maintenance ids: from the file, iCal UIDs, Statuspage ids alike
    base = rep["maintenance"][0]
    rep["maintenance"] = [dict(base, id=h, status=h) for h in HOSTILE]
    rep["downtime"] = [dict(d, target=h)
                       for d, h in zip(rep["downtime"] * 6, HOSTILE, strict=False)]
    return rep, service


def _text_ok(out: str) -> None:
    assert not CONTROL.search(out), repr(CONTROL.search(out))
    for line in out.splitlines():
        assert not line.lstrip().startswith(("| INJECTED", "INJECTED")), line


def _markdown_ok(out: str) -> None:
    _text_ok(out)
    assert "<script" not in out and "<img" not in out and "`" not in out.replace("\\`", "")
    assert "](javascript" not in out.replace("\\](javascript", "")
    for line in out.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            header_cols = {4, 5, 6, 8, 10}
            assert len(cells) in header_cols, line


def test_the_escaping_functions() -> None:
    assert for_terminal("\x1b[2J\x07\x9b\n") == "\\x1b[2J\\x07\\x9b\\x0a"
    assert for_terminal("plain text: ok") == "plain text: ok"
    assert for_markdown("a|b<c>`d`\nx") == "a\\|b&lt;c&gt;\\`d\\`\\\\x0ax"
    assert markdown_row(["a|b", "c"]) == "| a\\|b | c |"


def test_report_text_markdown_html_json() -> None:
    rep, service = _hostile_case()
    _text_ok(report.render_text(rep, service))
    _markdown_ok(report.render_markdown(rep, service))
    assert json.loads(report.render_json(rep, service)) == rep  # JSON escapes by itself
    cfg = reportcase.config()
    html = report.render_html(dataclasses.replace(cfg, daemon=dataclasses.replace(
        cfg.daemon, service=service)), reportcase.tracker(), rep, reportcase.NOW)
    assert "<script>alert" not in html and "<img src=x" not in html


def test_incidents_and_acks_text_and_markdown() -> None:
    tr = reportcase.tracker()
    cfg = reportcase.config()
    items = incidents.in_range(cfg, tr, {}, a=reportcase.A, b=reportcase.B, now=reportcase.NOW)
    doc = incidents.document(items, reportcase.A, reportcase.B)
    assert doc["incidents"]
    for i, inc in enumerate(doc["incidents"]):
        inc["id"] = HOSTILE[i % len(HOSTILE)]
        inc["acknowledged"] = "2026-10-01T10:05:00Z by " + HOSTILE[(i + 3) % len(HOSTILE)]
    _text_ok(incidents.render(doc, "text", Support()))
    _markdown_ok(incidents.render(doc, "markdown", Support()))


def test_every_text_table_escapes_its_cells() -> None:
    """`maintenance list`, `once`, `incidents`: one table formatter, every cell escaped."""
    out = "\n".join(table([["id", "reason"], *[[h, h] for h in HOSTILE]], rule=True))
    _text_ok(out)
    assert len(out.splitlines()) == len(HOSTILE) + 2


def test_service_name_from_the_config() -> None:
    cfg = parse({"daemon": {"service": "Svc\x1b[2J|<b>"},
                 "targets": [{"name": "a", "url": "http://127.0.0.1:9/"}]})
    rep, _ = reportcase.build()
    _text_ok(report.render_text(rep, cfg.daemon.service))
    _markdown_ok(report.render_markdown(rep, cfg.daemon.service))
