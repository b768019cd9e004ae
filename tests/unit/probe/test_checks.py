"""Table-driven tests of checks.judge: status, body and latency conditions, in order."""

from __future__ import annotations

import re
from typing import Any

import pytest

from slaprobe.core.model import ErrorKind
from slaprobe.core.probe.checks import judge
from slaprobe.core.spec import ProbeSpec


def spec(**kw: Any) -> ProbeSpec:
    return ProbeSpec(name="t", url="http://127.0.0.1/", **kw)


OK = None  # expected error kind for a success


@pytest.mark.parametrize(
    ("fields", "status", "body", "latency", "error", "detail"),
    [
        # status
        ({}, 200, b"", 0.1, OK, ""),
        ({}, 503, b"", 0.1, ErrorKind.BAD_STATUS, "status 503"),
        ({}, 201, b"", 0.1, ErrorKind.BAD_STATUS, "status 201"),
        ({"expect_status": ("2xx",)}, 204, b"", 0.1, OK, ""),
        ({"expect_status": ("2xx",)}, 299, b"", 0.1, OK, ""),
        ({"expect_status": ("2xx",)}, 301, b"", 0.1, ErrorKind.BAD_STATUS, "status 301"),
        ({"expect_status": ("200", "301")}, 301, b"", 0.1, OK, ""),
        ({"expect_status": ("200", "301")}, 302, b"", 0.1, ErrorKind.BAD_STATUS, "status 302"),
        ({"expect_status": ("2xx", "3xx")}, 302, b"", 0.1, OK, ""),
        ({"expect_status": ("5xx",)}, 503, b"", 0.1, OK, ""),
        # body_contains
        ({"body_contains": "ok"}, 200, b'{"status":"ok"}', 0.1, OK, ""),
        ({"body_contains": "ok"}, 200, b"fail", 0.1, ErrorKind.BODY_MISMATCH, "body lacks 'ok'"),
        ({"body_contains": "ok"}, 200, b"", 0.1, ErrorKind.BODY_MISMATCH, "body lacks 'ok'"),
        ({"body_contains": "OK"}, 200, b"ok", 0.1, ErrorKind.BODY_MISMATCH, "body lacks 'OK'"),
        ({"body_contains": "café"}, 200, "café au lait".encode(), 0.1, OK, ""),
        ({"body_contains": "ok"}, 200, b"\xff\xfe ok \x80", 0.1, OK, ""),  # undecodable bytes
        ({"body_contains": "x" * 60}, 200, b"", 0.1, ErrorKind.BODY_MISMATCH,
         "body lacks '" + "x" * 37 + "...'"),
        # body_regex (search, not match)
        ({"body_regex": re.compile(r"v\d+\.\d+")}, 200, b"build v1.22 ok", 0.1, OK, ""),
        ({"body_regex": re.compile(r"^up$", re.M)}, 200, b"state:\nup\n", 0.1, OK, ""),
        ({"body_regex": re.compile(r"v\d+")}, 200, b"version ?", 0.1, ErrorKind.BODY_MISMATCH,
         "body does not match /v\\d+/"),
        # both body conditions must hold
        ({"body_contains": "ok", "body_regex": re.compile("z")}, 200, b"ok", 0.1,
         ErrorKind.BODY_MISMATCH, "body does not match /z/"),
        ({"body_contains": "ok", "body_regex": re.compile("o")}, 200, b"ok", 0.1, OK, ""),
        # max_latency
        ({"max_latency": 2.0}, 200, b"", 1.999, OK, ""),
        ({"max_latency": 2.0}, 200, b"", 2.0, OK, ""),  # equal is not slower
        ({"max_latency": 2.0}, 200, b"", 2.5, ErrorKind.TOO_SLOW, "latency 2.500s > 2s"),
        ({}, 200, b"", 1e6, OK, ""),  # no max_latency: any latency passes
        # order: bad_status, then body_mismatch, then too_slow
        ({"body_contains": "ok", "max_latency": 1.0}, 500, b"nope", 9.0,
         ErrorKind.BAD_STATUS, "status 500"),
        ({"body_contains": "ok", "max_latency": 1.0}, 200, b"nope", 9.0,
         ErrorKind.BODY_MISMATCH, "body lacks 'ok'"),
        ({"body_contains": "ok", "max_latency": 1.0}, 200, b"ok", 9.0,
         ErrorKind.TOO_SLOW, "latency 9.000s > 1s"),
    ],
)
def test_judge(
    *, fields: dict[str, Any], status: int, body: bytes, latency: float,
    error: ErrorKind | None, detail: str,
) -> None:
    a = judge(spec(**fields), status=status, body=body, latency=latency)
    assert a.ok is (error is None)
    assert a.error == error
    assert a.detail == detail
    assert a.status == status
    assert a.latency == latency


def test_detail_never_carries_header_values() -> None:
    s = spec(headers=(("Authorization", "Bearer s3cret"),), body_contains="ok", max_latency=0.1)
    for status, body, latency in [(500, b"", 0.0), (200, b"no", 0.0), (200, b"ok", 1.0)]:
        a = judge(s, status=status, body=body, latency=latency)
        assert not a.ok
        assert "s3cret" not in a.detail
