"""tcp:// and dns:// targets in the config: URL shapes, their keys, keys of other kinds."""

from __future__ import annotations

from typing import Any

import pytest

from slaprobe import config
from slaprobe.config import ConfigError


def parse(*targets: dict[str, Any], defaults: dict[str, Any] | None = None) -> config.Config:
    raw: dict[str, Any] = {"targets": list(targets)}
    if defaults:
        raw["defaults"] = defaults
    return config.parse(raw, env={})


def problems(*targets: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(*targets)
    return info.value.problems


def test_kinds_and_their_keys() -> None:
    cfg = parse({"name": "smtp", "url": "tcp://mail.example.com:25", "send": "QUIT\r\n",
                 "expect": "^220 ", "tls": False},
                {"name": "dns", "url": "dns://192.0.2.53/app.example.com", "record_type": "aaaa",
                 "expect_answers": ["2001:db8::1"]},
                {"name": "web", "url": "https://app.example.com/"},
                defaults={"expect_status": [200], "interval": "15s"})
    smtp, dns, web = cfg.targets
    assert (smtp.kind, smtp.send, smtp.tls) == ("tcp", "QUIT\r\n", False)
    assert smtp.expect is not None and smtp.expect.pattern == "^220 "
    assert (dns.kind, dns.record_type, dns.expect_answers) == ("dns", "AAAA", ("2001:db8::1",))
    assert web.kind == "http"
    assert smtp.interval == dns.interval == 15.0  # shared keys from [defaults] apply
    assert smtp.expect_status == ("200",)  # not used by a tcp check: the model's default


def test_url_shapes() -> None:
    assert problems({"name": "a", "url": "tcp://127.0.0.1"},
                    {"name": "b", "url": "tcp://127.0.0.1:25/path"},
                    {"name": "c", "url": "dns://127.0.0.1/"},
                    {"name": "d", "url": "dns://127.0.0.1/a/b"},
                    {"name": "e", "url": "ftp://127.0.0.1/"}) == [
        "targets[0].url: must be tcp://HOST:PORT (a port, no path), not 'tcp://127.0.0.1'",
        "targets[1].url: must be tcp://HOST:PORT (a port, no path), not 'tcp://127.0.0.1:25/path'",
        "targets[2].url: must be dns://SERVER[:PORT]/NAME (one name), not 'dns://127.0.0.1/'",
        "targets[3].url: must be dns://SERVER[:PORT]/NAME (one name), not 'dns://127.0.0.1/a/b'",
        "targets[4].url: must be an http://, https://, tcp://HOST:PORT or"
        " dns://SERVER[:PORT]/NAME URL with a host, not 'ftp://127.0.0.1/'",
    ]


def test_keys_of_another_kind_are_errors_where_written() -> None:
    assert problems(
        {"name": "a", "url": "tcp://127.0.0.1:22", "body_contains": "x", "record_type": "A"},
        {"name": "b", "url": "dns://127.0.0.1/x", "expect": "y", "verify_tls": True},
        {"name": "c", "url": "http://127.0.0.1/", "send": "x", "expect_answers": []},
        {"name": "d", "url": "tcp://127.0.0.1:22", "verify_tls": False},
    ) == [
        "targets[0].body_contains: only for http:// targets, not tcp://",
        "targets[0].record_type: only for dns:// targets, not tcp://",
        "targets[1].expect: only for tcp:// targets, not dns://",
        "targets[1].verify_tls: only for http:// or tcp:// targets, not dns://",
        "targets[2].send: only for tcp:// targets, not http://",
        "targets[2].expect_answers: only for dns:// targets, not http://",
        "targets[3].verify_tls: only with tls = true on a tcp:// target",
    ]


def test_record_types_and_regex() -> None:
    assert problems({"name": "a", "url": "dns://127.0.0.1/x", "record_type": "BOGUS"},
                    {"name": "b", "url": "dns://127.0.0.1/x", "record_type": "ANY"},
                    {"name": "c", "url": "tcp://127.0.0.1:1", "expect": "("}) == [
        "targets[0].record_type: unknown DNS record type 'BOGUS'",
        "targets[1].record_type: 'ANY' is a query meta-type, not a record type",
        "targets[2].expect: invalid regular expression: missing ), unterminated subpattern"
        " at position 0",
    ]


def test_controls_may_be_tcp_or_dns() -> None:
    cfg = config.parse({"targets": [{"name": "a", "url": "http://127.0.0.1/"}],
                        "controls": [{"url": "dns://127.0.0.1/example.org"},
                                     {"url": "tcp://127.0.0.1:443", "tls": True}]}, env={})
    assert [c.kind for c in cfg.controls] == ["dns", "tcp"]


def test_degraded_latency() -> None:
    cfg = parse({"name": "a", "url": "http://127.0.0.1/", "degraded_latency": "800ms",
                 "max_latency": "2s"})
    assert cfg.targets[0].degraded_latency == 0.8
    assert problems({"name": "a", "url": "http://127.0.0.1/", "degraded_latency": "2s",
                     "max_latency": "2s"}) == [
        "targets[0].degraded_latency: must be less than max_latency (slower checks fail as"
        " too_slow)"]
