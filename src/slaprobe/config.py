"""probe.toml decoded and validated in one step into the model of `slaprobe.core.spec`.

`parse(mapping, env=..., path=...)` collects every problem with its key path
(`targets[2].url: ...`) and raises ConfigError listing all of them; `load(path)`
reads TOML and calls it. This module also owns path and environment policy: where
the database and the maintenance file live, and which config file is the default.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yarl

from slaprobe.core.business import (
    Calendar,
    check_holidays,
    parse_business_duration,
    parse_days,
    parse_hours,
)
from slaprobe.core.incidents import Support, Targets
from slaprobe.core.spec import Config, DaemonSpec, MaintenanceSpec, ProbeSpec, SloSpec
from slaprobe.core.timefmt import format_duration, parse_duration, plausible, to_epoch

NAME_RE = re.compile(r"^[a-z0-9_-]+\Z")
STATUS_CLASS_RE = re.compile(r"^[1-5]xx\Z")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
DAY = 86400.0
MAX_DURATION = 100 * 365 * DAY  # no duration key means more than a century
# (least, most) seconds per duration key; keys not listed: (0, MAX_DURATION)
DURATION_BOUNDS: dict[str, tuple[float, float]] = {
    "interval": (1.0, DAY),              # sub-second probing is a load test, not an SLA
    "timeout": (0.0, 3600.0),
    "retry_interval": (0.0, 3600.0),
    "max_latency": (0.0, 3600.0),
    "retention": (DAY, MAX_DURATION),
    "maintenance_notice": (0.0, 365 * DAY),
    "maintenance_feed_interval": (0.0, DAY),
    "windows": (60.0, 3660 * DAY),
}
MAX_RETRIES = 10
MAX_BODY_BYTES = 1 << 30
MAX_CONCURRENCY = 10_000
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an RFC 9110 token


class ConfigError(Exception):
    """Raised with every problem found, each as `key.path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --- decoding -----------------------------------------------------------------

_PROBE_KEYS = {
    "critical", "interval", "timeout", "retries", "retry_interval", "expect_status", "method",
    "headers", "body_contains", "body_regex", "max_latency", "verify_tls", "follow_redirects",
    "max_body_bytes",
}
_TARGET_KEYS = _PROBE_KEYS | {"name", "url"}
_CONTROL_KEYS = (_PROBE_KEYS - {"critical"}) | {"name", "url"}
_DAEMON_KEYS = {"listen", "database", "service", "retention", "max_concurrency", "web_config"}
_SLO_KEYS = {
    "objective", "windows", "maintenance_notice", "allow_retroactive_maintenance",
    "maintenance_file", "maintenance_feeds", "maintenance_feed_interval",
}
_MAINT_KEYS = {"id", "start", "end", "announced", "targets", "reason"}
_TOP_KEYS = {"daemon", "slo", "defaults", "targets", "controls", "maintenance", "support"}
_SUPPORT_KEYS = {
    "timezone", "hours", "days", "holidays", "holidays_subdivision", "extra_holidays",
    "merge_gap", "high", "medium",
}
_CLOCK_KEYS = {"response", "resolution"}


class _Decoder:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}")

    def unknown(self, table: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                self.problem(where, "unknown key")

    def table(self, value: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.problem(path, f"must be a table, not {_typename(value)}")
            return {}
        return value

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a string, not {_typename(value)}")
            return None
        return value

    def resolved(self, value: Any, path: str) -> str | None:
        """A string that may be `env:NAME`, read from the environment."""
        s = self.string(value, path)
        if s is None or not s.startswith("env:"):
            return s
        name = s[4:]
        if not name:
            self.problem(path, "env: needs a variable name")
            return None
        if name not in self.env:
            self.problem(path, f"environment variable {name} is not set")
            return None
        return self.env[name]

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.problem(path, f"must be true or false, not {_typename(value)}")
            return None
        return value

    def integer(self, value: Any, path: str, minimum: int,
                maximum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"must be an integer, not {_typename(value)}")
            return None
        if value < minimum:
            self.problem(path, f"must be at least {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.problem(path, f"must be at most {maximum}, not {value}")
            return None
        return value

    def duration(self, value: Any, path: str, *, positive: bool = True) -> float | None:
        s = self.string(value, path)
        if s is None:
            return None
        try:
            seconds = parse_duration(s)
        except ValueError as e:
            self.problem(path, str(e))
            return None
        if positive and seconds <= 0:
            self.problem(path, "must be greater than zero")
            return None
        key = path.rsplit(".", 1)[-1].split("[", 1)[0]
        low, high = DURATION_BOUNDS.get(key, (0.0, MAX_DURATION))
        if seconds < low:
            self.problem(path, f"must be at least {format_duration(low)}, not {s}")
            return None
        if seconds > high:
            self.problem(path, f"must be at most {format_duration(high)}, not {s}")
            return None
        return seconds

    def instant(self, value: Any, path: str) -> float | None:
        if not isinstance(value, dt.datetime | dt.date) or isinstance(value, dt.time):
            self.problem(path, f"must be a TOML datetime with offset, not {_typename(value)}")
            return None
        try:
            epoch = to_epoch(value)
        except (ValueError, OverflowError) as e:
            self.problem(path, str(e))
            return None
        try:
            return plausible(epoch, str(value))
        except ValueError as e:
            self.problem(path, str(e))
            return None

    def str_list(self, value: Any, path: str) -> tuple[str, ...] | None:
        if not isinstance(value, list):
            self.problem(path, f"must be an array of strings, not {_typename(value)}")
            return None
        out = []
        for i, item in enumerate(value):
            s = self.string(item, f"{path}[{i}]")
            if s is not None:
                out.append(s)
        return tuple(out)


def _typename(value: Any) -> str:
    return {
        str: "a string", int: "an integer", float: "a number", bool: "a boolean",
        list: "an array", dict: "a table",
    }.get(type(value), type(value).__name__)


def _probe_fields(d: _Decoder, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Decode the keys shared by targets, controls and [defaults]."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        p = f"{path}.{key}"
        match key:
            case "critical" | "verify_tls":
                v: Any = d.boolean(value, p)
            case "follow_redirects":
                if value == "same-origin" or isinstance(value, bool):
                    v = value
                else:
                    d.problem(p, f'must be true, false or "same-origin", not {value!r}')
                    v = None
            case "interval" | "timeout" | "retry_interval" | "max_latency":
                v = d.duration(value, p)
            case "retries":
                v = d.integer(value, p, 0, MAX_RETRIES)
            case "max_body_bytes":
                v = d.integer(value, p, 1, MAX_BODY_BYTES)
            case "method":
                v = d.string(value, p)
                if v is not None:
                    v = v.upper()
                    if v not in METHODS:
                        d.problem(p, f"unsupported method {value!r}")
                        v = None
            case "expect_status":
                v = _expect_status(d, value, p)
            case "headers":
                v = _headers(d, value, p)
            case "body_contains":
                v = d.string(value, p)
            case "body_regex":
                v = d.string(value, p)
                if v is not None:
                    try:
                        v = re.compile(v)
                    except re.error as e:
                        d.problem(p, f"invalid regular expression: {e}")
                        v = None
            case _:
                continue
        if v is not None:
            out[key] = v
    return out


def _expect_status(d: _Decoder, value: Any, path: str) -> tuple[str, ...] | None:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]" if isinstance(value, list) else path
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            out.append(str(item))
        elif isinstance(item, str) and STATUS_CLASS_RE.match(item.lower()):
            out.append(item.lower())
        elif (isinstance(item, str) and item.isascii() and item.isdigit()
              and 100 <= int(item) <= 599):
            out.append(item)
        else:
            d.problem(p, f"must be an HTTP status (100-599) or a class like \"2xx\", not {item!r}")
            return None
    if not out:
        d.problem(path, "must list at least one status")
        return None
    return tuple(out)


def _headers(d: _Decoder, value: Any, path: str) -> tuple[tuple[str, str], ...] | None:
    table = d.table(value, path)
    out = []
    for name, raw in table.items():
        v = d.resolved(raw, f"{path}.{name}")
        if not HEADER_NAME_RE.match(str(name)):
            d.problem(f"{path}.{name}", "is not a valid HTTP header name")
        elif v is not None and any(c in v for c in "\r\n\0"):
            d.problem(f"{path}.{name}", "value must not contain a line break or NUL")
        elif v is not None:
            out.append((str(name), v))
    return tuple(out)


def _url(d: _Decoder, value: Any, path: str) -> str | None:
    s = d.resolved(value, path)
    if s is None:
        return None
    # never echo a secret: a URL from the environment, or a password in the URL
    if isinstance(value, str) and value.startswith("env:"):
        shown = f"the value of {value[4:]}"
    else:
        shown = repr(_mask_password(s))
    try:
        parts = urlsplit(s)
    except ValueError as e:  # e.g. "Invalid IPv6 URL" for an unclosed bracket
        d.problem(path, f"invalid URL {shown}: {e}")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        d.problem(path, f"must be an http:// or https:// URL with a host, not {shown}")
        return None
    try:
        _ = parts.port
    except ValueError:
        d.problem(path, f"invalid port in {shown}")
        return None
    try:  # what the HTTP client will parse: refuse here what it would refuse per probe
        host = yarl.URL(s).raw_host
    except (ValueError, TypeError) as e:
        d.problem(path, f"invalid URL {shown}: {e}")
        return None
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        d.problem(path, f"invalid host in {shown}")
        return None
    return s


def _has_userinfo(url: str) -> bool:
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None


def _mask_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _probes(
    d: _Decoder, raw: Any, section: str, allowed: set[str], defaults: Mapping[str, Any],
) -> tuple[ProbeSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        d.problem(section, f"must be an array of tables ([[{section}]]), not {_typename(raw)}")
        return ()
    out: list[ProbeSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = f"{section}[{i}]"
        table = d.table(item, path)
        if not isinstance(item, Mapping):
            continue
        d.unknown(table, allowed, path)
        n_before = len(d.problems)
        name: str | None
        if "name" in table:
            name = d.string(table["name"], f"{path}.name")
            if name is not None and not NAME_RE.match(name):
                d.problem(f"{path}.name", f"{name!r} must match [a-z0-9_-]+")
                name = None
        elif section == "controls":
            name = f"control-{i}"
        else:
            d.problem(f"{path}.name", "missing (every target needs a unique name)")
            name = None
        if name is not None:
            if name in seen:
                d.problem(f"{path}.name", f"duplicate name {name!r} (also {section}[{seen[name]}])")
            seen.setdefault(name, i)
        url = _url(d, table["url"], f"{path}.url") if "url" in table else None
        if "url" not in table:
            d.problem(f"{path}.url", "missing")
        fields = {**defaults, **_probe_fields(d, table, path)}
        if section == "controls":
            fields.pop("critical", None)
        if url is not None and _has_userinfo(url) and any(
                h.lower() == "authorization" for h, _ in fields.get("headers", ())):
            d.problem(f"{path}.headers.Authorization",
                      "cannot be combined with credentials in the URL (use one or the other)")
        if len(d.problems) > n_before or name is None or url is None:
            continue
        out.append(ProbeSpec(name=name, url=url, **fields))
    return tuple(out)


def _daemon(d: _Decoder, raw: Mapping[str, Any]) -> DaemonSpec:
    d.unknown(raw, _DAEMON_KEYS, "daemon")
    kw: dict[str, Any] = {}
    if "listen" in raw:
        s = d.string(raw["listen"], "daemon.listen")
        if s is not None:
            host, sep, port = s.rpartition(":")
            host = host.strip("[]")
            if (not sep or not host or not port.isascii() or not port.isdigit()
                    or not 0 <= int(port) <= 65535):
                d.problem("daemon.listen", f"must be HOST:PORT, not {s!r}")
            else:
                kw["listen_host"], kw["listen_port"] = host, int(port)
    if "database" in raw:
        s = d.string(raw["database"], "daemon.database")
        if s is not None:
            if s.strip():
                kw["database"] = s
            else:
                d.problem("daemon.database", "must not be empty")
    if "service" in raw:
        s = d.string(raw["service"], "daemon.service")
        if s:
            kw["service"] = s
        elif s is not None:
            d.problem("daemon.service", "must not be empty")
    if "retention" in raw and (v := d.duration(raw["retention"], "daemon.retention")) is not None:
        kw["retention"] = v
    if "max_concurrency" in raw and (
        n := d.integer(raw["max_concurrency"], "daemon.max_concurrency", 1, MAX_CONCURRENCY)
    ) is not None:
        kw["max_concurrency"] = n
    if "web_config" in raw and (s := d.string(raw["web_config"], "daemon.web_config")) is not None:
        if s.strip():
            kw["web_config"] = s
        else:
            d.problem("daemon.web_config", "must not be empty (omit it for plain HTTP)")
    return DaemonSpec(**kw)


def _slo(d: _Decoder, raw: Mapping[str, Any]) -> SloSpec:
    d.unknown(raw, _SLO_KEYS, "slo")
    kw: dict[str, Any] = {}
    if "objective" in raw:
        v = raw["objective"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1:
            d.problem("slo.objective", f"must be a number between 0 and 1 (exclusive), not {v!r}")
        else:
            kw["objective"] = float(v)
    if "windows" in raw and (names := d.str_list(raw["windows"], "slo.windows")) is not None:
        wins = []
        for i, name in enumerate(names):
            if (secs := d.duration(name, f"slo.windows[{i}]")) is not None:
                wins.append((name, secs))
        if len({w[0] for w in wins}) != len(wins):
            d.problem("slo.windows", "duplicate window")
        kw["windows"] = tuple(wins)
    if "maintenance_notice" in raw and (
        v := d.duration(raw["maintenance_notice"], "slo.maintenance_notice", positive=False)
    ) is not None:
        kw["maintenance_notice"] = v
    if "allow_retroactive_maintenance" in raw and (
        b := d.boolean(raw["allow_retroactive_maintenance"], "slo.allow_retroactive_maintenance")
    ) is not None:
        kw["allow_retroactive_maintenance"] = b
    if "maintenance_file" in raw and (
        s := d.string(raw["maintenance_file"], "slo.maintenance_file")
    ) is not None:
        kw["maintenance_file"] = s or None
    if "maintenance_feeds" in raw and (
        feeds := d.str_list(raw["maintenance_feeds"], "slo.maintenance_feeds")
    ) is not None:
        kw["maintenance_feeds"] = feeds
    if "maintenance_feed_interval" in raw and (
        v := d.duration(raw["maintenance_feed_interval"], "slo.maintenance_feed_interval")
    ) is not None:
        kw["maintenance_feed_interval"] = v
    return SloSpec(**kw)


def _zone(d: _Decoder, value: Any, path: str) -> dt.tzinfo | None:
    name = d.string(value, path)
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        d.problem(path, f"unknown timezone {name!r} (use an IANA name, e.g. \"Europe/London\")")
        return None


_DEFAULT_CLOCKS = {"high": ("4h", "1d"), "medium": ("8h", "2d")}  # SLA section 4


def _support(d: _Decoder, raw: Any) -> Support:
    """[support]: the business calendar and the incident targets; absent: the defaults."""
    if raw is None:
        return Support()
    raw = d.table(raw, "support")
    d.unknown(raw, _SUPPORT_KEYS, "support")
    calendar = _calendar(d, raw)
    kw: dict[str, Any] = {"calendar": calendar, "configured": True}
    if "merge_gap" in raw and (
        gap := d.duration(raw["merge_gap"], "support.merge_gap", positive=False)
    ) is not None:
        kw["merge_gap"] = gap
    for prio, (response, resolution) in _DEFAULT_CLOCKS.items():
        table = d.table(raw.get(prio, {}), f"support.{prio}")
        d.unknown(table, _CLOCK_KEYS, f"support.{prio}")
        clocks = {}
        for clock, default in (("response", response), ("resolution", resolution)):
            where = f"support.{prio}.{clock}"
            text = d.string(table[clock], where) if clock in table else default
            try:
                clocks[clock] = parse_business_duration(text or default, calendar.day_length)
            except ValueError as e:
                d.problem(where, str(e))
                clocks[clock] = parse_business_duration(default, calendar.day_length)
        kw[prio] = Targets(**clocks)
    return Support(**kw)


def _calendar(d: _Decoder, raw: Mapping[str, Any]) -> Calendar:
    cal: dict[str, Any] = {}
    if "timezone" in raw and (tz := _zone(d, raw["timezone"], "support.timezone")) is not None:
        cal["tz"] = tz
    if "hours" in raw and (text := d.string(raw["hours"], "support.hours")) is not None:
        try:
            cal["opens"], cal["closes"] = parse_hours(text)
        except ValueError as e:
            d.problem("support.hours", str(e))
    if "days" in raw and (text := d.string(raw["days"], "support.days")) is not None:
        try:
            cal["days"] = parse_days(text)
        except ValueError as e:
            d.problem("support.days", str(e))
    if "holidays" in raw and (country := d.string(raw["holidays"], "support.holidays")):
        cal["holidays"] = country
    if "holidays_subdivision" in raw and (subdiv := d.string(
            raw["holidays_subdivision"], "support.holidays_subdivision")):
        if "holidays" not in cal:
            d.problem("support.holidays_subdivision", "needs support.holidays (a country code)")
        else:
            cal["subdivision"] = subdiv
    if "holidays" in cal:
        try:
            check_holidays(cal["holidays"], cal.get("subdivision"))
        except ValueError as e:
            where = "support.holidays_subdivision" if "subdivision" in cal else "support.holidays"
            d.problem(where, f"{e} (country codes and subdivisions of the holidays package)")
    if "extra_holidays" in raw:
        value = raw["extra_holidays"]
        if not isinstance(value, list):
            d.problem("support.extra_holidays", f"must be an array of dates, not "
                      f"{_typename(value)}")
        else:
            for i, item in enumerate(value):
                if not isinstance(item, dt.date) or isinstance(item, dt.datetime):
                    d.problem(f"support.extra_holidays[{i}]",
                              f"must be a TOML date (2026-12-24), not {_typename(item)}")
            cal["extra_holidays"] = frozenset(
                x for x in value if isinstance(x, dt.date) and not isinstance(x, dt.datetime))
    return Calendar(**cal)


def parse_maintenance(
    raw: Any, *, source: str = "config", section: str = "maintenance",
    target_names: set[str] | None = None,
) -> tuple[tuple[MaintenanceSpec, ...], list[str]]:
    """Decode `[[maintenance]]` tables (from probe.toml or the maintenance file)."""
    d = _Decoder({})
    out = _maintenance(d, raw, source, section, target_names)
    return out, d.problems


def _maintenance(
    d: _Decoder, raw: Any, source: str, section: str, target_names: set[str] | None,
) -> tuple[MaintenanceSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        d.problem(section, "must be an array of tables ([[maintenance]])")
        return ()
    out: list[MaintenanceSpec] = []
    ids: dict[str, int] = {}
    for i, item in enumerate(raw):
        path = f"{section}[{i}]"
        table = d.table(item, path)
        if not isinstance(item, Mapping):
            continue
        d.unknown(table, _MAINT_KEYS, path)
        n_before = len(d.problems)
        for key in ("id", "start", "end", "announced"):
            if key not in table:
                d.problem(f"{path}.{key}", "missing")
        mid = d.string(table.get("id", ""), f"{path}.id") if "id" in table else None
        if mid is not None:
            if not mid:
                d.problem(f"{path}.id", "must not be empty")
            elif mid in ids:
                d.problem(f"{path}.id", f"duplicate id {mid!r} (also {section}[{ids[mid]}])")
            ids.setdefault(mid, i)
        start = d.instant(table["start"], f"{path}.start") if "start" in table else None
        end = d.instant(table["end"], f"{path}.end") if "end" in table else None
        announced = (
            d.instant(table["announced"], f"{path}.announced") if "announced" in table else None
        )
        if start is not None and end is not None and end <= start:
            d.problem(f"{path}.end", "must be after start")
        targets: tuple[str, ...] | None = None
        if "targets" in table:
            targets = d.str_list(table["targets"], f"{path}.targets")
            if targets is not None and target_names is not None:
                for j, t in enumerate(targets):
                    if t not in target_names:
                        d.problem(f"{path}.targets[{j}]", f"no target named {t!r}")
            if targets is not None and not targets:
                d.problem(f"{path}.targets", "must name at least one target (omit it for all)")
        reason = d.string(table.get("reason", ""), f"{path}.reason") if "reason" in table else ""
        if len(d.problems) > n_before:
            continue
        assert mid is not None and start is not None and end is not None
        assert announced is not None
        out.append(MaintenanceSpec(
            id=mid, start=start, end=end, announced=announced, targets=targets,
            reason=reason or "", source=source,
        ))
    return tuple(out)


def parse(
    raw: Mapping[str, Any], *, env: Mapping[str, str] | None = None, path: str | None = None,
) -> Config:
    """Decode a probe.toml mapping into Config, or raise ConfigError with every problem."""
    d = _Decoder(os.environ if env is None else env)
    d.unknown(raw, _TOP_KEYS, "")
    daemon = _daemon(d, d.table(raw.get("daemon", {}), "daemon"))
    slo = _slo(d, d.table(raw.get("slo", {}), "slo"))
    defaults_raw = d.table(raw.get("defaults", {}), "defaults")
    d.unknown(defaults_raw, _PROBE_KEYS, "defaults")
    defaults = _probe_fields(d, defaults_raw, "defaults")
    if "targets" not in raw:
        d.problem("targets", "missing: at least one [[targets]] table is needed")
    elif raw["targets"] == []:
        d.problem("targets", "empty: at least one [[targets]] table is needed")
    targets = _probes(d, raw.get("targets"), "targets", _TARGET_KEYS, defaults)
    controls = _probes(d, raw.get("controls"), "controls", _CONTROL_KEYS, defaults)
    names = {t.name for t in targets}
    raw_targets = raw.get("targets")
    if isinstance(raw_targets, list):
        names |= {str(t.get("name")) for t in raw_targets if isinstance(t, Mapping)}
    maintenance = _maintenance(d, raw.get("maintenance"), "config", "maintenance", names)
    support = _support(d, raw.get("support"))
    if d.problems:
        raise ConfigError(d.problems)
    return Config(
        daemon=daemon, slo=slo, targets=targets, controls=controls, maintenance=maintenance,
        support=support, path=path,
    )


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and decode a probe.toml file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError([f"{p}: cannot read: {e.strerror or e}"]) from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{p}: invalid TOML: {e}"]) from None
    return parse(raw, env=env, path=str(p))


def database_path(cfg: Config, env: Mapping[str, str] | None = None) -> Path:
    """The SQLite file; relative paths resolve under $STATE_DIRECTORY when set."""
    env = os.environ if env is None else env
    p = Path(cfg.daemon.database).expanduser()
    state_dir = env.get("STATE_DIRECTORY")
    if not p.is_absolute() and state_dir:
        p = Path(state_dir.split(":")[0]) / p
    return p


def maintenance_file_path(cfg: Config) -> Path | None:
    """The maintenance file; relative paths resolve beside the config file."""
    if not cfg.slo.maintenance_file:
        return None
    p = Path(cfg.slo.maintenance_file).expanduser()
    if not p.is_absolute() and cfg.path:
        p = Path(cfg.path).parent / p
    return p


def web_config_path(cfg: Config) -> Path | None:
    """The web-config file; relative paths resolve beside the config file."""
    if not cfg.daemon.web_config:
        return None
    p = Path(cfg.daemon.web_config).expanduser()
    if not p.is_absolute() and cfg.path:
        p = Path(cfg.path).parent / p
    return p


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """$SLAPROBE_CONFIG, else ./probe.toml, else /etc/slaprobe/probe.toml."""
    env = os.environ if env is None else env
    if env.get("SLAPROBE_CONFIG"):
        return Path(env["SLAPROBE_CONFIG"])
    local = Path("probe.toml")
    if local.exists():
        return local
    return Path("/etc/slaprobe/probe.toml")

