"""`body_json` against a real local server, on the plain-HTTP path and the TLS path."""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote

import pytest
from faultserver import FaultServer

from slaprobe import config
from slaprobe.core.model import ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe.prober import attempt

pytestmark = pytest.mark.timeout(10)

HEALTH = {"status": "UP", "components": {"db": {"status": "UP"}, "cache": {"status": "DOWN"}}}


def spec(url: str, body_json: dict[str, Any], **kw: Any) -> ProbeSpec:
    return config.parse({"targets": [{"name": "t", "url": url, "retries": 0, "timeout": "2s",
                                     "body_json": body_json, **kw}]}, env={}).targets[0]


def text_url(server: FaultServer, text: str) -> str:
    return server.url("/text?body=" + quote(text))


@pytest.mark.parametrize("path", ["plain", "tls"])
async def test_matching_and_mismatching(path: str, fault_server: FaultServer,
                                        tls_server: FaultServer,
                                        trusting_context: ssl.SSLContext) -> None:
    server = fault_server if path == "plain" else tls_server
    url = text_url(server, json.dumps(HEALTH))
    ok = await attempt(spec(url, {"status": "UP", "components.db.status": "UP"}),
                       ssl_context=trusting_context)
    assert ok.ok, ok
    bad = await attempt(spec(url, {"status": "UP", "components.cache.status": "UP"}),
                        ssl_context=trusting_context)
    assert (bad.ok, bad.error, bad.status, bad.detail) == (
        False, ErrorKind.BODY_MISMATCH, 200,
        "body_json 'components.cache.status' is \"DOWN\", expected \"UP\"")


async def test_json_route_of_the_fault_server(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/json"), {"status": "healthy", "version": "1.2.3"}))
    assert a.ok, a


async def test_invalid_json(fault_server: FaultServer) -> None:
    a = await attempt(spec(text_url(fault_server, "status: UP"), {"status": "UP"}))
    assert (a.ok, a.error, a.detail) == (False, ErrorKind.BODY_MISMATCH, "body is not JSON")


@pytest.mark.parametrize("path", ["plain", "tls"])
async def test_body_cut_at_max_body_bytes(path: str, fault_server: FaultServer,
                                          tls_server: FaultServer,
                                          trusting_context: ssl.SSLContext) -> None:
    """Only the first max_body_bytes are judged: a document longer than that is not JSON,
    one that fits is judged whole."""
    server = fault_server if path == "plain" else tls_server
    doc = json.dumps({"status": "UP", "padding": "p" * 200})
    cut = await attempt(spec(text_url(server, doc), {"status": "UP"}, max_body_bytes=100),
                        ssl_context=trusting_context)
    assert (cut.ok, cut.error, cut.detail) == (
        False, ErrorKind.BODY_MISMATCH, "body is not JSON (only the first 100 bytes are read)")
    whole = await attempt(spec(text_url(server, doc), {"status": "UP"},
                               max_body_bytes=len(doc)), ssl_context=trusting_context)
    assert whole.ok, whole
