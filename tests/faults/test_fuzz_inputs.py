"""Property-based fuzz of every input slaprobe reads: probe.toml, import CSV, iCalendar
and Statuspage feeds. Each case ends in a named error or a valid result, never another
exception (a traceback). The number of cases run is printed."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaprobe import config
from slaprobe.config import ConfigError
from slaprobe.core.history.importer import CsvError, iter_csv
from slaprobe.core.maintenance.feeds import FeedError, parse_ics, parse_statuspage
from slaprobe.core.spec import Config

CASES: Counter[str] = Counter()
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DATA = Path(__file__).resolve().parents[1] / "data"
HORIZON = (1.7e9, 1.7e9 + 90 * 86400)

# TOML-able values: what a careless or hostile config can hold
scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),  # TOML has no null
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["30s", "0s", "500ms", "1e400s", "-5m", "9999999999d", "env:HOME",
                     "env:", "env:NOPE", "http://[::1", "https://u:p@h/", "2xx", "GET",
                     "same-origin", "", " ", "\x00", "\u202e"]),
    st.datetimes(timezones=st.just(dt.UTC)), st.dates(),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
PROBE_KEYS = ["name", "url", "critical", "interval", "timeout", "retries", "retry_interval",
              "expect_status", "method", "headers", "body_contains", "body_regex",
              "max_latency", "verify_tls", "follow_redirects", "max_body_bytes"]
tables = st.fixed_dictionaries({}, optional={
    "daemon": st.dictionaries(st.sampled_from(
        ["listen", "database", "service", "retention", "max_concurrency", "bogus"]), values,
        max_size=4),
    "slo": st.dictionaries(st.sampled_from(
        ["objective", "windows", "maintenance_notice", "allow_retroactive_maintenance",
         "maintenance_file", "maintenance_feeds", "maintenance_feed_interval"]), values,
        max_size=4),
    "defaults": st.dictionaries(st.sampled_from(PROBE_KEYS), values, max_size=4),
    "targets": st.one_of(values, st.lists(st.dictionaries(st.sampled_from(PROBE_KEYS), values,
                                                          max_size=6), max_size=3)),
    "controls": values,
    "maintenance": st.one_of(values, st.lists(st.dictionaries(st.sampled_from(
        ["id", "start", "end", "announced", "targets", "reason"]), values, max_size=6),
        max_size=3)),
})


@FUZZ
@given(tables)
def fuzz_config_tables(raw: dict[str, Any]) -> None:
    CASES["probe.toml tables"] += 1
    try:
        cfg = config.parse(raw, env={"HOME": "/home/x"})
    except ConfigError as e:
        assert e.problems and all(": " in p for p in e.problems)  # each names its key
    else:
        assert isinstance(cfg, Config) and cfg.targets


VALID_TOML = (DATA / "config" / "valid.toml").read_text()


@FUZZ
@given(st.data())
def fuzz_config_text(data: st.DataObject) -> None:
    """The shipped-style file with random slices cut, repeated or replaced."""
    CASES["probe.toml text"] += 1
    text = VALID_TOML
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 40)))
        text = text[:i] + data.draw(st.text(max_size=20)) + text[j:]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # `load` reports it as ConfigError("invalid TOML ..."): covered below
    try:
        config.parse(raw, env={"CLONENER_TOKEN": "t", "STATUSPAGE_TOKEN": "t"})
    except ConfigError as e:
        assert e.problems


csv_cells = st.one_of(st.text(max_size=12), st.sampled_from(
    ["app", "2026-10-01T00:00:00Z", "1790000000", "1e309", "nan", "-1", "0", "1", "up",
     "down", "true", "200", "999", "0.5", "", "\"", "\r", "9999-12-31"]))


@FUZZ
@given(st.lists(st.lists(csv_cells, min_size=1, max_size=7), max_size=6),
       st.sampled_from(["target,time,ok", "target,time,ok,latency_seconds,status_code,error",
                        "time,ok", "target,target,time,ok", ""]))
def fuzz_csv(rows: list[list[str]], header: str) -> None:
    CASES["CSV"] += 1
    lines = [header + "\n"] + [",".join(r) + "\n" for r in rows]
    try:
        out = list(iter_csv(lines, {"app": 30.0}, not_after=1.9e9))
    except CsvError as e:
        assert str(e).startswith("line ")
    else:
        assert all(c.target == "app" for _, c in out)


VALID_ICS = (DATA / "feeds" / "maintenance.ics").read_bytes()
ics_lines = st.sampled_from([
    b"RRULE:FREQ=MINUTELY", b"RRULE:FREQ=SECONDLY;COUNT=99999999", b"RRULE:FREQ=DAILY;UNTIL=1",
    b"RRULE:BOGUS", b"DTSTART:99991231T000000Z", b"DTSTART:00010101T000000Z",
    b"DTEND:19000101", b"DURATION:-P1D", b"DURATION:P99999999D", b"EXDATE:x",
    b"RDATE:20261206T020000Z", b"BEGIN:VEVENT", b"END:VEVENT", b"END:VCALENDAR",
    b"UID:", b"X-SLAPROBE-TARGETS:,,", b"CREATED:garbage",
    b"DTSTART;TZID=Nowhere/X:20261206T020000",
])


@FUZZ
@given(st.data())
def fuzz_ics(data: st.DataObject) -> None:
    CASES["iCalendar"] += 1
    lines = VALID_ICS.split(b"\r\n")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines)))
        if data.draw(st.booleans()):
            lines.insert(i, data.draw(st.one_of(ics_lines, st.binary(max_size=30))))
        elif i < len(lines):
            del lines[i]
    try:
        out = parse_ics(b"\r\n".join(lines), source="fuzz.ics", horizon=HORIZON)
    except FeedError as e:
        assert str(e).startswith("maintenance feed fuzz.ics: ")
    else:
        assert all(w.end > w.start for w in out)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=20), st.sampled_from(
                  ["2026-12-06T02:00:00Z", "2026-12-06T02:00:00", "scheduled", "completed",
                   "0000-00-00", "9999-12-31T23:59:59+14:00"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=10)
maint_items = st.dictionaries(st.sampled_from(
    ["id", "name", "status", "created_at", "scheduled_for", "scheduled_until"]), json_values,
    max_size=6)


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries(
    {"scheduled_maintenances": st.one_of(json_values, st.lists(maint_items, max_size=4))})))
def fuzz_statuspage(doc: Any) -> None:
    CASES["Statuspage"] += 1
    try:
        out = parse_statuspage(json.dumps(doc).encode(), source="fuzz.json")
    except FeedError as e:
        assert str(e).startswith("maintenance feed fuzz.json: ")
    else:
        assert all(w.end > w.start for w in out)


@pytest.mark.parametrize("fuzz", [fuzz_config_tables, fuzz_config_text, fuzz_csv, fuzz_ics,
                                  fuzz_statuspage], ids=lambda f: f.__name__)
def test_fuzz_gives_a_named_error_or_a_valid_result(
    fuzz: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    before = sum(CASES.values())
    fuzz()
    ran = sum(CASES.values()) - before
    with capsys.disabled():
        print(f"\n{fuzz.__name__}: {ran} fuzz cases run ({dict(CASES)})")
    assert ran >= 100
