"""`[daemon] web_config`: TLS and basic auth from a Prometheus web-config file.

The file has the format of the Prometheus exporter toolkit (the same file an
operator writes for node_exporter):

    tls_server_config:
      cert_file: server.crt          # relative paths resolve beside this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
      client_ca_file: ca.crt
      min_version: TLS12             # default TLS12; max_version likewise
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hashes only

Every key is checked: a typo, a missing file, a key the toolkit has but
slaprobe does not implement (cipher_suites, curve_preferences, ...) is a
problem naming the key, reported by `slaprobe check` and at start. Loading
also builds the SSL context, so an unreadable key or a certificate that does
not match it is found by `check`, not by the first scrape.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slaprobe.config import ConfigError, web_config_path
from slaprobe.core.spec import Config
from slaprobe.web import server
from slaprobe.web.webauth import BasicAuth

__all__ = ["TlsSpec", "WebConfig", "WebConfigError", "exposure_warning", "for_config", "load",
           "middlewares"]

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3,
}
# The toolkit's client_auth_type values slaprobe serves, as Python verify modes.
# RequestClientCert and RequireAnyClientCert ask for a certificate without
# verifying it, which Python's ssl module cannot do.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNVERIFIED_CLIENT_AUTH = {"RequestClientCert", "RequireAnyClientCert"}
TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
            "max_version"}
TLS_UNSUPPORTED = {"cert", "key", "client_ca", "cipher_suites", "curve_preferences",
                   "prefer_server_cipher_suites", "client_allowed_sans"}
TOP_KEYS = {"tls_server_config", "basic_auth_users"}
TOP_UNSUPPORTED = {"http_server_config", "rate_limit"}
BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$")


class WebConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class TlsSpec:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass(frozen=True, slots=True)
class WebConfig:
    path: Path
    tls: TlsSpec | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    ssl_context: ssl.SSLContext | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"


class _Problems:
    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{self.where}: {key}: {message}" if key else f"{self.where}: {message}")


def load(path: Path, *, key: str = "daemon.web_config") -> WebConfig:
    """Read, check and prepare a web-config file; WebConfigError lists every problem."""
    p = _Problems(f"{key} ({path})")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WebConfigError([f"{key}: cannot read {path}: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise WebConfigError([f"{key}: {path}: not UTF-8 text ({e.reason})"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise WebConfigError([f"{p.where}: not valid YAML: {where}"
                              f"{getattr(e, 'problem', None) or e}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise WebConfigError([f"{p.where}: must be a mapping of keys, not {type(raw).__name__}"])
    for k in raw:
        if k in TOP_UNSUPPORTED:
            p.add(str(k), "not supported by slaprobe (remove it)")
        elif k not in TOP_KEYS:
            p.add(str(k), "unknown key")
    tls = _tls(p, raw.get("tls_server_config"), path.parent)
    users = _users(p, raw.get("basic_auth_users"))
    context = None
    if tls is not None and not p.items:
        context = _context(p, tls)
    if p.items:
        raise WebConfigError(p.items)
    return WebConfig(path=path, tls=tls, users=users, ssl_context=context)


def _tls(p: _Problems, raw: Any, base: Path) -> TlsSpec | None:
    section = "tls_server_config"
    if raw is None:
        return None
    if not isinstance(raw, dict):
        p.add(section, "must be a mapping")
        return None
    for k in raw:
        if k in TLS_UNSUPPORTED:
            p.add(f"{section}.{k}", "not supported by slaprobe (use cert_file, key_file, "
                  "client_ca_file, client_auth_type, min_version, max_version)")
        elif k not in TLS_KEYS:
            p.add(f"{section}.{k}", "unknown key")

    def path(k: str, required: bool) -> Path | None:
        v = raw.get(k)
        if v is None or v == "":
            if required:
                p.add(f"{section}.{k}", "missing (a PEM file)")
            return None
        if not isinstance(v, str):
            p.add(f"{section}.{k}", f"must be a file path, not {v!r}")
            return None
        f = Path(v).expanduser()
        f = f if f.is_absolute() else base / f
        if not f.is_file():
            p.add(f"{section}.{k}", f"no such file: {f}")
            return None
        return f

    def choice(k: str, allowed: Mapping[str, Any], default: str | None) -> str | None:
        v = raw.get(k, default)
        if v is None:
            return None
        if v not in allowed:
            p.add(f"{section}.{k}", f"must be one of {', '.join(allowed)}, not {v!r}")
            return None
        return str(v)

    cert, key = path("cert_file", True), path("key_file", True)
    ca = path("client_ca_file", False)
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth in UNVERIFIED_CLIENT_AUTH:
        p.add(f"{section}.client_auth_type", f"{auth} (a certificate asked for but not "
              "verified) is not supported: use VerifyClientCertIfGiven or "
              "RequireAndVerifyClientCert with client_ca_file")
        auth = None
    else:
        auth = choice("client_auth_type", CLIENT_AUTH, "NoClientCert")
    if auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and ca is None \
            and "client_ca_file" not in raw:
        p.add(f"{section}.client_ca_file", f"required with client_auth_type {auth}")
    low = choice("min_version", TLS_VERSIONS, "TLS12")
    high = choice("max_version", TLS_VERSIONS, None)
    if low and high and TLS_VERSIONS[low] > TLS_VERSIONS[high]:
        p.add(f"{section}.max_version", f"{high} is below min_version {low}")
    if cert is None or key is None or auth is None or low is None:
        return None
    return TlsSpec(cert_file=cert, key_file=key, client_auth_type=auth, client_ca_file=ca,
                   min_version=low, max_version=high)


def _users(p: _Problems, raw: Any) -> dict[str, bytes]:
    section = "basic_auth_users"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        p.add(section, "must be a mapping of user name to bcrypt hash")
        return {}
    users: dict[str, bytes] = {}
    for name, hashed in raw.items():
        if not isinstance(name, str) or not name or ":" in name:
            p.add(f"{section}.{name}", "a user name must be a non-empty string without ':'")
        elif not isinstance(hashed, str) or not BCRYPT_HASH.match(hashed):
            # Never echo the value: it may be a plain-text password by mistake.
            p.add(f"{section}.{name}", "must be a bcrypt hash ($2y$..., e.g. from "
                  "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`), never a plain password")
        else:
            users[name] = hashed.encode("ascii")
    return users


class _Encrypted(Exception):
    """The TLS key needs a pass phrase."""


def _no_pass_phrase() -> str:
    raise _Encrypted


def _context(p: _Problems, tls: TlsSpec) -> ssl.SSLContext | None:
    section = "tls_server_config"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version is not None:
        ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    try:  # an encrypted key asks this callback, never a pass phrase at a terminal
        ctx.load_cert_chain(tls.cert_file, tls.key_file, password=_no_pass_phrase)
    except _Encrypted:
        p.add(f"{section}.key_file", f"{tls.key_file} is encrypted (it needs a pass phrase);"
              " give the key unencrypted (`openssl pkey -in KEY -out PLAIN`), readable only"
              " by slaprobe (e.g. a systemd credential)")
        return None
    except (ssl.SSLError, OSError) as e:
        p.add(f"{section}.cert_file/key_file", f"cannot load {tls.cert_file} with "
              f"{tls.key_file}: {getattr(e, 'reason', None) or e}")
        return None
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, OSError) as e:
            p.add(f"{section}.client_ca_file",
                  f"cannot load {tls.client_ca_file}: {getattr(e, 'reason', None) or e}")
            return None
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    return ctx


def for_config(cfg: Config) -> WebConfig | None:
    """The config's `[daemon] web_config`, loaded; its problems as a ConfigError."""
    path = web_config_path(cfg)
    if path is None:
        return None
    try:
        return load(path)
    except WebConfigError as e:
        raise ConfigError(e.problems) from None


def middlewares(web: WebConfig | None) -> list[Any]:
    """aiohttp middlewares for every endpoint: basic auth when users are configured."""
    if web is None or not web.users:
        return []
    return [BasicAuth(web.users).middleware]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or an empty host: reachable from elsewhere, maybe


def exposure_warning(host: str, web: WebConfig | None) -> str | None:
    """Why listening on `host` with `web` exposes the endpoints, or None if it does not."""
    if is_loopback(host):
        return None
    if web is None:
        return ("no [daemon] web_config: every endpoint is plain HTTP without "
                "authentication on a non-loopback address")
    if web.tls is None:
        return "web_config has no tls_server_config: requests and credentials travel in clear"
    if not web.users and web.tls.client_auth_type != "RequireAndVerifyClientCert":
        return ("web_config has neither basic_auth_users nor required client certificates: "
                "anyone who reaches the port can read every endpoint")
    return None


async def listen(app: Any, host: str, port: int, web: WebConfig | None, log: Any) -> Any:
    """Serve `app` on host:port with this web config's TLS and users (server.start),
    log where, and warn when it is reachable off this machine without protection.
    None (and an error event) if the address cannot be bound."""
    try:
        runner = await server.start(app, host, port,
                                    ssl_context=None if web is None else web.ssl_context)
    except OSError as e:
        log.error("listen_failed", address=f"{host}:{port}", error=e.strerror or str(e))
        return None
    log.info("listening", address=f"{host}:{port}", scheme="http" if web is None else web.scheme)
    if warning := exposure_warning(host, web):
        log.warning("listening_unprotected", address=f"{host}:{port}", reason=warning)
    return runner
