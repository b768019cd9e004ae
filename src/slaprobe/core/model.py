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
    PROTOCOL_ERROR = "protocol_error"  # the response violates HTTP (headers, framing)
    ANSWER_MISMATCH = "answer_mismatch"  # tcp: answer not matching `expect`; dns: an
    #                                      expected answer missing
    # slaprobe's own side: the check's outcome is unknown, never down
    PROBE_ERROR = "probe_error"              # an exception slaprobe did not expect
    FD_EXHAUSTED = "probe_fd_exhausted"      # out of file descriptors (EMFILE/ENFILE)
    OVERLOADED = "probe_overloaded"          # the event loop ran late past the check's budget
    OUT_OF_MEMORY = "probe_out_of_memory"    # MemoryError while probing
    CLOCK_STEP = "probe_clock_step"          # the wall clock jumped forward over this span

    @property
    def own(self) -> bool:
        """A failure on slaprobe's side: the target's state is unknown, not down."""
        return self in OWN_KINDS


OWN_KINDS = frozenset({
    ErrorKind.PROBE_ERROR, ErrorKind.FD_EXHAUSTED, ErrorKind.OVERLOADED, ErrorKind.OUT_OF_MEMORY,
    ErrorKind.CLOCK_STEP,
})
OWN_REASONS = frozenset(str(k) for k in OWN_KINDS)


class State(enum.IntEnum):
    """A span's state on a timeline. Unknown time is a gap, not a state."""

    UP = 0
    DOWN = 1
    PROBE_NETWORK = 2  # failed while every control failed: excluded as probe_network
    MAINTENANCE = 3    # inside an excused maintenance window: excluded as maintenance


@dataclass(frozen=True, slots=True)
class CertExpiry:
    """A TLS connection's certificates: the leaf's not-after and the earliest not-after of
    the verified chain (leaf included; None when nothing was verified), Unix seconds."""

    leaf: float
    chain: float | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt: success or an error kind, with what was seen."""

    ok: bool
    latency: float
    status: int | None = None
    error: ErrorKind | None = None
    detail: str = ""
    cert: CertExpiry | None = None  # a TLS attempt whose handshake completed
    degraded: bool = False  # a success slower than the target's degraded_latency

    @property
    def unknown(self) -> bool:
        """Failed on slaprobe's own side: says nothing about the target."""
        return self.error is not None and self.error.own


@dataclass(frozen=True, slots=True)
class Check:
    """One scheduled check of one target, retries included.

    `at` is the UTC wall time (Unix seconds) of its first attempt; it fails only
    if every attempt failed. `network` marks a failure excused as probe_network.
    `unknown` marks a check slaprobe could not perform or judge through its own
    fault (`error` names the reason): its outcome, and the time it covers, are
    unknown, never down. `location` names the vantage point that made it.
    """

    target: str
    at: float
    ok: bool
    interval: float
    latency: float | None = None
    status: int | None = None
    error: str | None = None
    network: bool = False
    unknown: bool = False
    location: str = "default"  # where the check was made from ([daemon] location)

    @property
    def state(self) -> State | None:
        """The state this check gives its time; None: unknown outcome."""
        if self.unknown:
            return None
        if self.ok:
            return State.UP
        return State.PROBE_NETWORK if self.network else State.DOWN
