"""probe.toml decoded and validated in one step into the model of `slaprobe.core.spec`.

`parse(mapping, env=..., path=...)` collects every problem with its key path
(`targets[2].url: ...`) and raises ConfigError listing all of them; `load(path)`
reads TOML and calls it. This module also owns path and environment policy: where
the database and the maintenance file live, and which config file is the default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yarl

from slaprobe.core.incidents.business import (
    Calendar,
    check_holidays,
    parse_business_duration,
    parse_days,
    parse_hours,
)
from slaprobe.core.incidents.rules import Support, Targets
from slaprobe.core.probe import jsonbody
from slaprobe.core.probe.jsonbody import JsonAssertion
from slaprobe.core.spec import (
    Config,
    DaemonSpec,
    EvidenceSpec,
    MaintenanceSpec,
    ProbeSpec,
    SloSpec,
)
from slaprobe.core.timefmt import format_duration, parse_duration, plausible, to_epoch
from slaprobe.core.urls import is_keyword_string, looks_like_url, masked

NAME_RE = re.compile(r"^[a-z0-9_-]+\Z")
SCHEMES = frozenset({"http", "https", "tcp", "dns"})
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
    "degraded_latency": (0.0, 3600.0),
    "retention": (DAY, MAX_DURATION),
    "maintenance_notice": (0.0, 365 * DAY),
    "maintenance_feed_interval": (0.0, DAY),
    "windows": (60.0, 3660 * DAY),
}
MAX_RETRIES = 10
MAX_BODY_BYTES = 1 << 30
MAX_CONCURRENCY = 10_000
MAX_QUORUM = 100
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an RFC 9110 token


class ConfigError(Exception):
    """Raised with every problem found, each as `key.path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --- decoding -----------------------------------------------------------------

class _Decoder:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}")

    def unknown(self, table: Mapping[str, Any], allowed: AbstractSet[str], path: str) -> None:
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
        decode = _PROBE_FIELDS.get(key)
        if decode is None:
            continue  # not a probe key: `d.unknown` names it
        v = decode(d, value, f"{path}.{key}")
        if v is not None:
            out[key] = v
    return out


def _method(d: _Decoder, value: Any, path: str) -> str | None:
    v = d.string(value, path)
    if v is None:
        return None
    if v.upper() not in METHODS:
        d.problem(path, f"unsupported method {value!r}")
        return None
    return v.upper()


def _regex(d: _Decoder, value: Any, path: str) -> re.Pattern[str] | None:
    v = d.string(value, path)
    if v is None:
        return None
    try:
        return re.compile(v)
    except re.error as e:
        d.problem(path, f"invalid regular expression: {e}")
        return None


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


def _body_json(d: _Decoder, value: Any, path: str) -> tuple[JsonAssertion, ...] | None:
    """`{ "EXPR" = VALUE, ... }`: each EXPR compiled now, a bad one named by its key path."""
    table = d.table(value, path)
    out: list[JsonAssertion] = []
    for expr, expected in table.items():
        where = f"{path}.{json.dumps(str(expr))}"
        try:
            out.append(jsonbody.assertion(str(expr), expected))
        except jsonbody.BadAssertion as e:
            d.problem(where, str(e))
    if isinstance(value, Mapping) and not value:
        d.problem(path, "must hold at least one expression")
    return tuple(out)


def _url(d: _Decoder, value: Any, path: str) -> str | None:
    s = d.resolved(value, path)
    if s is None:
        return None
    # never echo a secret: a URL from the environment, or a password in the URL
    if isinstance(value, str) and value.startswith("env:"):
        shown = f"the value of {value[4:]}"
    else:
        shown = repr(masked(s))
    try:
        parts = urlsplit(s)
    except ValueError as e:  # e.g. "Invalid IPv6 URL" for an unclosed bracket
        d.problem(path, f"invalid URL {shown}: {e}")
        return None
    if parts.scheme not in SCHEMES or not parts.hostname:
        d.problem(path, "must be an http://, https://, tcp://HOST:PORT or dns://SERVER[:PORT]/NAME"
                        f" URL with a host, not {shown}")
        return None
    try:
        port = parts.port
    except ValueError:
        d.problem(path, f"invalid port in {shown}")
        return None
    if parts.scheme == "tcp" and (port is None or parts.path not in ("", "/") or parts.query):
        d.problem(path, f"must be tcp://HOST:PORT (a port, no path), not {shown}")
        return None
    if parts.scheme == "dns" and (not parts.path.strip("/") or parts.query
                                  or "/" in parts.path.strip("/")):
        d.problem(path, f"must be dns://SERVER[:PORT]/NAME (one name), not {shown}")
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


def _record_type(d: _Decoder, value: Any, path: str) -> str | None:
    import dns.rdatatype  # noqa: PLC0415 (a dns:// target's only: dnspython loads then)

    s = d.string(value, path)
    if s is None:
        return None
    try:
        rdtype = dns.rdatatype.from_text(s.upper())
    except dns.rdatatype.UnknownRdatatype:
        d.problem(path, f"unknown DNS record type {s!r}")
        return None
    if dns.rdatatype.is_metatype(rdtype):
        d.problem(path, f"{s!r} is a query meta-type, not a record type")
        return None
    return s.upper()


def _kind_keys(d: _Decoder, table: Mapping[str, Any], kind: str, fields: Mapping[str, Any],
               path: str) -> None:
    """Keys that mean nothing for this kind of check are errors where they are written
    (a [defaults] value for another kind is simply not used)."""
    for key in table:
        if key in _KIND_KEYS and kind not in _KIND_KEYS[key]:
            kinds = " or ".join(f"{k}://" for k in _KIND_KEYS[key])
            d.problem(f"{path}.{key}", f"only for {kinds} targets, not {kind}://")
    if kind == "tcp" and "verify_tls" in table and not fields.get("tls"):
        d.problem(f"{path}.verify_tls", "only with tls = true on a tcp:// target")


def _kind(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    return "http" if scheme in ("http", "https") else scheme


def _has_userinfo(url: str) -> bool:
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None


def _probes(
    d: _Decoder, raw: Any, section: str, allowed: AbstractSet[str], defaults: Mapping[str, Any],
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
        if url is not None:
            fields["kind"] = _kind(url)
            _kind_keys(d, table, fields["kind"], fields, path)
            for key, kinds in _KIND_KEYS.items():  # another kind's default is not used here
                if fields["kind"] not in kinds and key not in table:
                    fields.pop(key, None)
        if "latency_objective" in fields and "degraded_latency" not in fields:
            d.problem(f"{path}.latency_objective", "needs degraded_latency (what is slow)")
        if fields.get("degraded_latency", 0.0) >= fields.get("max_latency", float("inf")):
            d.problem(f"{path}.degraded_latency",
                      "must be less than max_latency (slower checks fail as too_slow)")
        if url is not None and _has_userinfo(url) and any(
                h.lower() == "authorization" for h, _ in fields.get("headers", ())):
            d.problem(f"{path}.headers.Authorization",
                      "cannot be combined with credentials in the URL (use one or the other)")
        if len(d.problems) > n_before or name is None or url is None:
            continue
        out.append(ProbeSpec(name=name, url=url, **fields))
    return tuple(out)


# A table decoder maps each allowed key to a function (decoder, value, key path) giving
# the spec fields it sets; the table's allowed keys are exactly the mapping's keys, so a
# key cannot be allowed without being decoded.
Fields = dict[str, Any]
KeyDecoder = Callable[["_Decoder", Any, str], Fields]


def _one(field: str, decode: Callable[[_Decoder, Any, str], Any]) -> KeyDecoder:
    """A key that sets one field (left unset when its value is invalid)."""
    def key(d: _Decoder, value: Any, path: str) -> Fields:
        v = decode(d, value, path)
        return {} if v is None else {field: v}
    return key


def _listen(d: _Decoder, value: Any, path: str) -> Fields:
    s = d.string(value, path)
    if s is None:
        return {}
    host, sep, port = s.rpartition(":")
    host = host.strip("[]")
    if (not sep or not host or not port.isascii() or not port.isdigit()
            or not 0 <= int(port) <= 65535):
        d.problem(path, f"must be HOST:PORT, not {s!r}")
        return {}
    return {"listen_host": host, "listen_port": int(port)}


def _non_empty(d: _Decoder, value: Any, path: str, *, why: str = "must not be empty",
               ) -> str | None:
    s = d.string(value, path)
    if s is not None and not s.strip():
        d.problem(path, why)
        return None
    return s


def _objective(d: _Decoder, value: Any, path: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        d.problem(path, f"must be a number between 0 and 1 (exclusive), not {value!r}")
        return None
    return float(value)


def _windows(d: _Decoder, value: Any, path: str) -> tuple[tuple[str, float], ...] | None:
    names = d.str_list(value, path)
    if names is None:
        return None
    wins = []
    for i, name in enumerate(names):
        if (secs := d.duration(name, f"{path}[{i}]")) is not None:
            wins.append((name, secs))
    if len({w[0] for w in wins}) != len(wins):
        d.problem(path, "duplicate window")
    return tuple(wins)


def _maintenance_file(d: _Decoder, value: Any, path: str) -> Fields:
    s = d.string(value, path)
    return {} if s is None else {"maintenance_file": s or None}


def _follow_redirects(d: _Decoder, value: Any, path: str) -> bool | str | None:
    if value == "same-origin" or isinstance(value, bool):
        choice: bool | str = value
        return choice
    d.problem(path, f'must be true, false or "same-origin", not {value!r}')
    return None


_PROBE_FIELDS: dict[str, Callable[[_Decoder, Any, str], Any]] = {
    "critical": _Decoder.boolean,
    "interval": _Decoder.duration,
    "timeout": _Decoder.duration,
    "retries": lambda d, v, p: d.integer(v, p, 0, MAX_RETRIES),
    "retry_interval": _Decoder.duration,
    "expect_status": _expect_status,
    "method": _method,
    "headers": _headers,
    "body_contains": _Decoder.string,
    "body_regex": _regex,
    "body_json": _body_json,
    "max_latency": _Decoder.duration,
    "degraded_latency": _Decoder.duration,
    "latency_objective": _objective,
    "verify_tls": _Decoder.boolean,
    "follow_redirects": _follow_redirects,
    "max_body_bytes": lambda d, v, p: d.integer(v, p, 1, MAX_BODY_BYTES),
    "send": _Decoder.string,
    "expect": _regex,
    "tls": _Decoder.boolean,
    "record_type": _record_type,
    "expect_answers": _Decoder.str_list,
}
# keys that only some kinds of check use (the rest apply to every kind)
_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "expect_status": ("http",), "method": ("http",), "headers": ("http",),
    "body_contains": ("http",), "body_regex": ("http",), "body_json": ("http",),
    "follow_redirects": ("http",), "verify_tls": ("http", "tcp"),
    "max_body_bytes": ("http", "tcp"),
    "send": ("tcp",), "expect": ("tcp",), "tls": ("tcp",),
    "record_type": ("dns",), "expect_answers": ("dns",),
}
def _database(d: _Decoder, value: Any, path: str) -> str | None:
    """A SQLite path, or a postgresql:// URL (`env:NAME` reads it from the environment,
    so its password need not be in the file)."""
    s = d.resolved(value, path)
    if s is not None and not s.strip():
        d.problem(path, "must not be empty")
        return None
    if s is None:
        return None
    shown = repr(masked(s))
    if is_keyword_string(s):  # never a file name: it would be named after the password
        d.problem(path, f"{shown}: a key=value connection string is not supported; write it"
                  " as a postgresql://user:password@host:port/dbname URL")
        return None
    if (is_url(s) or looks_like_url(s)) and not s.startswith(("postgresql://", "postgres://")):
        d.problem(path, f"{shown}: only postgresql:// URLs (or a SQLite file path)")
        return None
    return s


def _location(d: _Decoder, value: Any, path: str) -> str | None:
    s = d.string(value, path)
    if s is not None and not NAME_RE.match(s):
        d.problem(path, f"{s!r} must match [a-z0-9_-]+")
        return None
    return s


_DAEMON_FIELDS: dict[str, KeyDecoder] = {
    "listen": _listen,
    "database": _one("database", _database),
    "location": _one("location", _location),
    "service": _one("service", _non_empty),
    "retention": _one("retention", _Decoder.duration),
    "max_concurrency": _one("max_concurrency",
                            lambda d, v, p: d.integer(v, p, 1, MAX_CONCURRENCY)),
    "web_config": _one("web_config", lambda d, v, p: _non_empty(
        d, v, p, why="must not be empty (omit it for plain HTTP)")),
    "target_latency_histogram": _one("target_latency_histogram", _Decoder.boolean),
    "target_windows": _one("target_windows", _Decoder.str_list),
}
_SLO_FIELDS: dict[str, KeyDecoder] = {
    "objective": _one("objective", _objective),
    "windows": _one("windows", _windows),
    "maintenance_notice": _one(
        "maintenance_notice", lambda d, v, p: d.duration(v, p, positive=False)),
    "allow_retroactive_maintenance": _one("allow_retroactive_maintenance", _Decoder.boolean),
    "maintenance_file": _maintenance_file,
    "maintenance_feeds": _one("maintenance_feeds", _Decoder.str_list),
    "maintenance_feed_interval": _one("maintenance_feed_interval", _Decoder.duration),
    "quorum": _one("quorum", lambda d, v, p: d.integer(v, p, 1, MAX_QUORUM)),
}
_PROBE_KEYS = frozenset(_PROBE_FIELDS)
_TOP_KEYS = frozenset(
    {"daemon", "slo", "defaults", "targets", "controls", "maintenance", "support", "evidence"})
_TARGET_KEYS = _PROBE_KEYS | {"name", "url"}  # name and url: read by `_probes` itself
_CONTROL_KEYS = (_PROBE_KEYS - {"critical"}) | {"name", "url"}


def _table(d: _Decoder, raw: Mapping[str, Any], fields: Mapping[str, KeyDecoder],
           path: str) -> Fields:
    """Decode a table whose allowed keys are `fields`' keys."""
    d.unknown(raw, set(fields), path)
    kw: Fields = {}
    for key, value in raw.items():
        if (decode := fields.get(key)) is not None:
            kw.update(decode(d, value, f"{path}.{key}"))
    return kw


def _check_target_windows(d: _Decoder, daemon: DaemonSpec, slo: SloSpec) -> None:
    """Every `[daemon] target_windows` entry names a window of `[slo] windows` or month."""
    known = [label for label, _ in slo.windows] + ["month"]
    for i, name in enumerate(daemon.target_windows or ()):
        if name not in known:
            d.problem(f"daemon.target_windows[{i}]",
                      f"{name!r} is not a window (one of {', '.join(known)})")


def _daemon(d: _Decoder, raw: Mapping[str, Any]) -> DaemonSpec:
    return DaemonSpec(**_table(d, raw, _DAEMON_FIELDS, "daemon"))


def _slo(d: _Decoder, raw: Mapping[str, Any]) -> SloSpec:
    return SloSpec(**_table(d, raw, _SLO_FIELDS, "slo"))


def _zone(d: _Decoder, value: Any, path: str) -> dt.tzinfo | None:
    name = d.string(value, path)
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        d.problem(path, f"unknown timezone {name!r} (use an IANA name, e.g. \"Europe/London\")")
        return None


def _hours(d: _Decoder, value: Any, path: str) -> Fields:
    text = d.string(value, path)
    if text is None:
        return {}
    try:
        opens, closes = parse_hours(text)
    except ValueError as e:
        d.problem(path, str(e))
        return {}
    return {"opens": opens, "closes": closes}


def _days(d: _Decoder, value: Any, path: str) -> Any:
    text = d.string(value, path)
    if text is None:
        return None
    try:
        return parse_days(text)
    except ValueError as e:
        d.problem(path, str(e))
        return None


def _code(d: _Decoder, value: Any, path: str) -> str | None:
    """A holidays country or subdivision code; an empty one is left unset."""
    return d.string(value, path) or None


def _extra_holidays(d: _Decoder, value: Any, path: str) -> frozenset[dt.date] | None:
    if not isinstance(value, list):
        d.problem(path, f"must be an array of dates, not {_typename(value)}")
        return None
    for i, item in enumerate(value):
        if not isinstance(item, dt.date) or isinstance(item, dt.datetime):
            d.problem(f"{path}[{i}]", f"must be a TOML date (2026-12-24), not {_typename(item)}")
    return frozenset(x for x in value if isinstance(x, dt.date) and not isinstance(x, dt.datetime))


# [support]'s keys: the calendar's, merge_gap, and one clock table per priority (each
# table's keys are its clocks; unset clocks keep the SLA section 4 defaults).
_CALENDAR_FIELDS: dict[str, KeyDecoder] = {
    "timezone": _one("tz", _zone),
    "hours": _hours,
    "days": _one("days", _days),
    "holidays": _one("holidays", _code),
    "holidays_subdivision": _one("subdivision", _code),
    "extra_holidays": _one("extra_holidays", _extra_holidays),
}
_SUPPORT_FIELDS: dict[str, KeyDecoder] = {
    "merge_gap": _one("merge_gap", lambda d, v, p: d.duration(v, p, positive=False)),
}
_DEFAULT_CLOCKS: dict[str, dict[str, str]] = {
    "high": {"response": "4h", "resolution": "1d"},
    "medium": {"response": "8h", "resolution": "2d"},
}
_SUPPORT_KEYS = frozenset(_CALENDAR_FIELDS) | frozenset(_SUPPORT_FIELDS) | frozenset(
    _DEFAULT_CLOCKS)


def _fields(d: _Decoder, raw: Mapping[str, Any], fields: Mapping[str, KeyDecoder],
            path: str) -> Fields:
    """The keys of `fields` present in `raw`, decoded in `fields`' order."""
    kw: Fields = {}
    for key, decode in fields.items():
        if key in raw:
            kw.update(decode(d, raw[key], f"{path}.{key}"))
    return kw


def _support(d: _Decoder, raw: Any) -> Support:
    """[support]: the business calendar and the incident targets; absent: the defaults."""
    if raw is None:
        return Support()
    raw = d.table(raw, "support")
    d.unknown(raw, _SUPPORT_KEYS, "support")
    calendar = _calendar(d, raw)
    kw: Fields = {"calendar": calendar, "configured": True,
                  **_fields(d, raw, _SUPPORT_FIELDS, "support")}
    for prio, defaults in _DEFAULT_CLOCKS.items():
        table = d.table(raw.get(prio, {}), f"support.{prio}")
        d.unknown(table, set(defaults), f"support.{prio}")
        clocks = {}
        for clock, default in defaults.items():
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
    cal = _fields(d, raw, _CALENDAR_FIELDS, "support")
    if "subdivision" in cal and "holidays" not in cal:
        d.problem("support.holidays_subdivision", "needs support.holidays (a country code)")
        del cal["subdivision"]
    if "holidays" in cal:
        try:
            check_holidays(cal["holidays"], cal.get("subdivision"))
        except ValueError as e:
            where = "support.holidays_subdivision" if "subdivision" in cal else "support.holidays"
            d.problem(where, f"{e} (country codes and subdivisions of the holidays package)")
    return Calendar(**cal)


def parse_maintenance(
    raw: Any, *, source: str = "config", section: str = "maintenance",
    target_names: set[str] | None = None,
) -> tuple[tuple[MaintenanceSpec, ...], list[str]]:
    """Decode `[[maintenance]]` tables (from probe.toml or the maintenance file)."""
    d = _Decoder({})
    out = _maintenance(d, raw, source, section, target_names)
    return out, d.problems


_MAINT_FIELDS: dict[str, Callable[[_Decoder, Any, str], Any]] = {
    "id": _Decoder.string, "start": _Decoder.instant, "end": _Decoder.instant,
    "announced": _Decoder.instant, "targets": _Decoder.str_list, "reason": _Decoder.string,
}


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
        d.unknown(table, set(_MAINT_FIELDS), path)
        n_before = len(d.problems)
        for key in ("id", "start", "end", "announced"):
            if key not in table:
                d.problem(f"{path}.{key}", "missing")
        got: dict[str, Any] = {}
        for key, decode in _MAINT_FIELDS.items():  # in this order: problems read in order
            if key in table:
                got[key] = decode(d, table[key], f"{path}.{key}")
            if key == "id" and (mid := got.get("id")) is not None:
                if not mid:
                    d.problem(f"{path}.id", "must not be empty")
                elif mid in ids:
                    d.problem(f"{path}.id", f"duplicate id {mid!r} (also {section}[{ids[mid]}])")
                ids.setdefault(mid, i)
            elif key == "announced":
                start, end = got.get("start"), got.get("end")
                if start is not None and end is not None and end <= start:
                    d.problem(f"{path}.end", "must be after start")
            elif key == "targets" and (targets := got.get("targets")) is not None:
                if target_names is not None:
                    for j, t in enumerate(targets):
                        if t not in target_names:
                            d.problem(f"{path}.targets[{j}]", f"no target named {t!r}")
                if not targets:
                    d.problem(f"{path}.targets", "must name at least one target (omit it for all)")
        if len(d.problems) > n_before:
            continue
        out.append(MaintenanceSpec(
            id=got["id"], start=got["start"], end=got["end"], announced=got["announced"],
            targets=got.get("targets"), reason=got.get("reason") or "", source=source,
        ))
    return tuple(out)


def parse(
    raw: Mapping[str, Any], *, env: Mapping[str, str] | None = None, path: str | None = None,
) -> Config:
    """Decode a probe.toml mapping into Config, or raise ConfigError with every problem."""
    d = _Decoder(os.environ if env is None else env)
    d.unknown(raw, _TOP_KEYS, "")  # each read below
    daemon = _daemon(d, d.table(raw.get("daemon", {}), "daemon"))
    slo = _slo(d, d.table(raw.get("slo", {}), "slo"))
    _check_target_windows(d, daemon, slo)
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
    evidence = _evidence(d, d.table(raw.get("evidence", {}), "evidence"))
    if d.problems:
        raise ConfigError(d.problems)
    return Config(
        daemon=daemon, slo=slo, targets=targets, controls=controls, maintenance=maintenance,
        support=support, path=path, evidence=evidence,
    )


def _evidence(d: _Decoder, raw: Mapping[str, Any]) -> EvidenceSpec:
    """`[evidence] signing_key`: the path (relative to probe.toml) of the key that signs
    exported statements; only the path is kept, the key is read when it signs."""
    d.unknown(raw, {"signing_key"}, "evidence")
    key = raw.get("signing_key")
    if key is None:
        return EvidenceSpec()
    path = d.string(key, "evidence.signing_key")
    if path is not None and not path.strip():
        d.problem("evidence.signing_key", "must not be empty (omit it to export unsigned)")
        return EvidenceSpec()
    return EvidenceSpec(signing_key=path)


def signing_key_path(cfg: Config) -> Path | None:
    """`[evidence] signing_key`, resolved beside the config file."""
    if not cfg.evidence.signing_key:
        return None
    p = Path(cfg.evidence.signing_key).expanduser()
    if not p.is_absolute() and cfg.path:
        p = Path(cfg.path).parent / p
    return p


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


def is_url(database: str) -> bool:
    """Whether `[daemon] database` names a server (scheme://...), not a SQLite file."""
    return "://" in database


def shared(cfg: Config) -> bool:
    """Whether the history is on a PostgreSQL server (shared by locations)."""
    return on_server(cfg.daemon.database)


def on_server(database: str) -> bool:
    """Whether a `[daemon] database` names a PostgreSQL server (else a SQLite file)."""
    return database.startswith(("postgresql://", "postgres://"))


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

