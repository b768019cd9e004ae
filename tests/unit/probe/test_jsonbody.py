"""JSON assertions (`body_json`): decoding at load, judging a body."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from slaprobe import config
from slaprobe.config import ConfigError
from slaprobe.core.model import ErrorKind
from slaprobe.core.probe import jsonbody
from slaprobe.core.probe.checks import judge
from slaprobe.core.spec import ProbeSpec


def spec_with(body_json: dict[str, Any], **kw: Any) -> ProbeSpec:
    cfg = config.parse({"targets": [{"name": "app", "url": "http://127.0.0.1:1/",
                                     "body_json": body_json, **kw}]}, env={})
    return cfg.targets[0]


def problems(body_json: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        spec_with(body_json)
    return info.value.problems


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_load_compiles_and_keeps_order() -> None:
    s = spec_with({"status": "UP", "checks[?name=='db'] | [0].ok": True, "version": 3})
    assert [a.expression for a in s.body_json] == [
        "status", "checks[?name=='db'] | [0].ok", "version"]
    assert s == spec_with({"status": "UP", "checks[?name=='db'] | [0].ok": True, "version": 3})
    assert hash(s) == hash(spec_with({"status": "UP", "checks[?name=='db'] | [0].ok": True,
                                      "version": 3}))
    assert s != spec_with({"status": "DOWN", "checks[?name=='db'] | [0].ok": True, "version": 3})


def test_bad_expression_is_named_by_its_key_path() -> None:
    assert problems({"status": "UP", "checks[": 1, "a..b": 2}) == [
        'targets[0].body_json."checks[": invalid JMESPath expression:'
        " incomplete expression at position 7",
        'targets[0].body_json."a..b": invalid JMESPath expression: Expecting:'
        " ['quoted_identifier', 'unquoted_identifier', 'lbracket', 'lbrace'], got: dot"
        " at position 2",
    ]


def test_bad_values_and_shapes() -> None:
    assert problems({"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}) == [
        'targets[0].body_json."at": the expected value must be a JSON value, not datetime']
    assert problems({}) == ["targets[0].body_json: must hold at least one expression"]
    assert problems("status") == ["targets[0].body_json: must be a table, not a string"]


def test_defaults_carry_body_json() -> None:
    cfg = config.parse({"defaults": {"body_json": {"ok": True}},
                        "targets": [{"name": "app", "url": "http://127.0.0.1:1/"}]}, env={})
    assert [a.expression for a in cfg.targets[0].body_json] == ["ok"]


def test_judge_match_and_mismatch() -> None:
    s = spec_with({"status": "UP", "db.ok": True, "n": 2, "tags": ["a", "b"]})
    good = {"status": "UP", "db": {"ok": True}, "n": 2.0, "tags": ["a", "b"], "extra": 1}
    assert judge(s, status=200, body=body(good), latency=0.1).ok
    down = judge(s, status=200, body=body({**good, "status": "DOWN"}), latency=0.1)
    assert (down.ok, down.error, down.detail) == (
        False, ErrorKind.BODY_MISMATCH, "body_json 'status' is \"DOWN\", expected \"UP\"")
    missing = judge(s, status=200, body=body({"status": "UP"}), latency=0.1)
    assert missing.detail == "body_json 'db.ok' is null, expected true"


def test_json_types_are_strict() -> None:
    assert not jsonbody.same(1, True)
    assert not jsonbody.same(0, False)
    assert jsonbody.same(1, 1.0)
    assert not jsonbody.same("1", 1)
    assert not jsonbody.same([1, 2], [2, 1])
    assert jsonbody.same({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    s = spec_with({"ok": 1})
    assert judge(s, status=200, body=b'{"ok": true}', latency=0.1).error == ErrorKind.BODY_MISMATCH


def test_not_json_and_cut_body() -> None:
    s = spec_with({"status": "UP"}, max_body_bytes=10)
    not_json = judge(s, status=200, body=b"<html>oops", latency=0.1)
    assert (not_json.error, not_json.detail) == (
        ErrorKind.BODY_MISMATCH, "body is not JSON (only the first 10 bytes are read)")
    short = judge(s, status=200, body=b"<html>", latency=0.1)
    assert short.detail == "body is not JSON"


def test_status_is_judged_before_json() -> None:
    s = spec_with({"status": "UP"})
    a = judge(s, status=503, body=body({"status": "UP"}), latency=0.1)
    assert a.error == ErrorKind.BAD_STATUS


def test_long_values_are_shortened_in_details() -> None:
    s = spec_with({"status": "UP"})
    a = judge(s, status=200, body=body({"status": "x" * 500}), latency=0.1)
    assert a.detail is not None and len(a.detail) < 120 and a.detail.endswith('expected "UP"')
