"""PURE: judge one HTTP response snapshot against a probe spec.

No I/O and no aiohttp: the prober reads the response, this module decides.
Conditions are checked in a fixed order and the first failing one wins:
`bad_status`, then `body_mismatch` (text, regex, then JSON assertions), then
`too_slow`. Header values never reach `detail` (they may be secrets); only the
spec's own body conditions do.
"""

from __future__ import annotations

from slaprobe.core.model import Attempt, ErrorKind
from slaprobe.core.probe import jsonbody
from slaprobe.core.spec import ProbeSpec

_SHOWN = 40  # longest needle or pattern quoted in a detail


def judge(spec: ProbeSpec, *, status: int, body: bytes, latency: float) -> Attempt:
    """Success or the first failed condition, with a short human `detail`."""

    def fail(kind: ErrorKind, detail: str) -> Attempt:
        return Attempt(ok=False, latency=latency, status=status, error=kind, detail=detail)

    if not spec.accepts_status(status):
        return fail(ErrorKind.BAD_STATUS, f"status {status}")
    if spec.body_contains is not None or spec.body_regex is not None:
        text = body.decode("utf-8", errors="replace")
        if spec.body_contains is not None and spec.body_contains not in text:
            return fail(ErrorKind.BODY_MISMATCH, f"body lacks {_short(spec.body_contains)!r}")
        if spec.body_regex is not None and spec.body_regex.search(text) is None:
            return fail(
                ErrorKind.BODY_MISMATCH, f"body does not match /{_short(spec.body_regex.pattern)}/",
            )
    if spec.body_json and (why := jsonbody.failure(spec.body_json, body,
                                                    spec.max_body_bytes)) is not None:
        return fail(ErrorKind.BODY_MISMATCH, why)
    if spec.max_latency is not None and latency > spec.max_latency:
        return fail(ErrorKind.TOO_SLOW, f"latency {latency:.3f}s > {spec.max_latency:g}s")
    if spec.degraded_latency is not None and latency > spec.degraded_latency:
        return degraded(spec, latency, status)
    return Attempt(ok=True, latency=latency, status=status)


def degraded(spec: ProbeSpec, latency: float, status: int | None = None) -> Attempt:
    """A success slower than `degraded_latency`: up, and degraded."""
    return Attempt(ok=True, latency=latency, status=status, degraded=True,
                   detail=f"degraded: latency {latency:.3f}s > {spec.degraded_latency:g}s")


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
