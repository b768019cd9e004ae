"""PURE: the frozen, typed configuration model.

These are the values `slaprobe.config` decodes probe.toml into; every other module reads them.
Where files live (database, maintenance file) is path policy and stays in `slaprobe.config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from slaprobe.core.incidents.rules import Support
from slaprobe.core.probe.jsonbody import JsonAssertion


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One probed URL: a target or a control. Header values are secrets."""

    name: str
    url: str
    critical: bool = True
    interval: float = 30.0
    timeout: float = 10.0
    retries: int = 2
    retry_interval: float = 2.0
    expect_status: tuple[str, ...] = ("200",)
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body_contains: str | None = None
    body_regex: re.Pattern[str] | None = None
    body_json: tuple[JsonAssertion, ...] = ()  # JMESPath expression = expected JSON value
    max_latency: float | None = None
    degraded_latency: float | None = None  # a successful check slower than this is degraded
    latency_objective: float | None = None  # the latency SLI's objective (a ratio)
    verify_tls: bool = True
    follow_redirects: bool | str = True  # True, False or "same-origin"
    max_body_bytes: int = 1 << 20
    # the check kind, from the URL's scheme: "http" (http:// and https://), "tcp", "dns"
    kind: str = "http"
    send: str | None = None                  # tcp: written once connected
    expect: re.Pattern[str] | None = None    # tcp: the answer must match (searched)
    tls: bool = False                        # tcp: TLS after connecting
    record_type: str = "A"                   # dns: the type asked for
    expect_answers: tuple[str, ...] = ()     # dns: each must be in the answer

    def accepts_status(self, code: int) -> bool:
        text = str(code)
        return any(e == text or (e.endswith("xx") and text[0] == e[0]) for e in self.expect_status)


@dataclass(frozen=True, slots=True)
class MaintenanceSpec:
    """One announced maintenance window as declared (times in Unix seconds)."""

    id: str
    start: float
    end: float
    announced: float
    targets: tuple[str, ...] | None = None  # None: every target and the service
    reason: str = ""
    source: str = "config"


@dataclass(frozen=True, slots=True)
class DaemonSpec:
    listen_host: str = "127.0.0.1"
    listen_port: int = 9469
    database: str = "slaprobe.db"
    service: str = "CloneNer"
    retention: float = 400 * 86400.0
    max_concurrency: int = 100
    web_config: str | None = None  # Prometheus web-config file: TLS, basic auth
    # the per-target series that cost most in a scrape (README "Metrics"): the latency
    # histogram's buckets (off: only +Inf, sum and count, 3 series a target instead of
    # 15) and the windows of the per-target ratios (None: every window, as DESIGN lists)
    target_latency_histogram: bool = False
    target_windows: tuple[str, ...] | None = None
    location: str = "default"  # where this daemon probes from; every check records it




def per_target_windows(daemon: DaemonSpec, slo_windows: tuple[tuple[str, float], ...]
                       ) -> frozenset[str]:
    """The window labels of the per-target availability and coverage ratios: every
    `[slo] windows` entry and month (DESIGN), unless `[daemon] target_windows` picks fewer."""
    if daemon.target_windows is not None:
        return frozenset(daemon.target_windows)
    return frozenset({label for label, _ in slo_windows} | {"month"})


@dataclass(frozen=True, slots=True)
class SloSpec:
    objective: float = 0.999
    windows: tuple[tuple[str, float], ...] = (
        ("1h", 3600.0), ("1d", 86400.0), ("7d", 604800.0), ("30d", 2592000.0),
    )
    maintenance_notice: float = 48 * 3600.0
    allow_retroactive_maintenance: bool = False
    maintenance_file: str | None = None
    maintenance_feeds: tuple[str, ...] = ()
    maintenance_feed_interval: float = 300.0
    quorum: int = 1  # locations that must agree (on a history shared by several)


@dataclass(frozen=True, slots=True)
class EvidenceSpec:
    signing_key: str | None = None  # an Ed25519 private key (PEM), relative to probe.toml


@dataclass(frozen=True, slots=True)
class Config:
    daemon: DaemonSpec = DaemonSpec()
    slo: SloSpec = SloSpec()
    targets: tuple[ProbeSpec, ...] = ()
    controls: tuple[ProbeSpec, ...] = ()
    maintenance: tuple[MaintenanceSpec, ...] = ()
    support: Support = field(default_factory=Support)
    path: str | None = None
    evidence: EvidenceSpec = EvidenceSpec()

    def target(self, name: str) -> ProbeSpec | None:
        return next((t for t in self.targets if t.name == name), None)
