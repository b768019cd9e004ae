"""Frozen value types shared by the pure logic and the I/O edges."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(enum.StrEnum):
    """Why an attempt failed; the `result` label of slaprobe_probes_total."""

    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    TLS_ERROR = "tls_error"
    DNS_ERROR = "dns_error"
    BAD_STATUS = "bad_status"
    BODY_MISMATCH = "body_mismatch"
    TOO_SLOW = "too_slow"


class State(enum.IntEnum):
    """A span's state on a timeline. Unknown time is a gap, not a state."""

    UP = 0
    DOWN = 1
    NET = 2     # failed while every control failed: excluded as probe_network
    MAINT = 3   # inside an excused maintenance window: excluded as maintenance


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt: success or an error kind, with what was seen."""

    ok: bool
    latency: float
    status: int | None = None
    error: ErrorKind | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """One scheduled check of one target, retries included.

    `at` is the UTC wall time (Unix seconds) of its first attempt; it fails only
    if every attempt failed. `network` marks a failure excused as probe_network.
    """

    target: str
    at: float
    ok: bool
    interval: float
    latency: float | None = None
    status: int | None = None
    error: str | None = None
    network: bool = False

    @property
    def state(self) -> State:
        if self.ok:
            return State.UP
        return State.NET if self.network else State.DOWN
