"""A check's time budget: what the daemon allows, and where the config asks for more.

The daemon gives each check (every attempt, and the pauses between them) at most
`share` of its interval, so one hanging target stays one continuous outage
instead of overlapping checks. A config whose worst case is longer still works,
but the last attempts are cut short: `check` says so, naming the key.
"""

from __future__ import annotations

from collections.abc import Iterable

from slaprobe.core.spec import ProbeSpec
from slaprobe.core.timefmt import format_duration


def budget(spec: ProbeSpec, share: float) -> float:
    """Seconds a check of `spec` may take, retries included."""
    return share * spec.interval


def worst_case(spec: ProbeSpec) -> float:
    """Seconds a check takes when every attempt times out."""
    return (spec.retries + 1) * spec.timeout + spec.retries * spec.retry_interval


def _secs(seconds: float) -> str:
    whole = seconds >= 1 and abs(seconds - round(seconds)) < 1e-9
    return format_duration(seconds) if whole or seconds < 1 else f"{seconds:.1f}s"


def warnings(specs: Iterable[tuple[str, ProbeSpec]], share: float) -> list[str]:
    """One line per probe (key path, spec) whose worst case exceeds its budget."""
    out = []
    for where, spec in specs:
        need, have = worst_case(spec), budget(spec, share)
        if need > have:
            n = spec.retries + 1
            how = f"{n} attempt{'s' if n > 1 else ''} x timeout {_secs(spec.timeout)}"
            if spec.retries:
                how += f" + {spec.retries} x retry_interval {_secs(spec.retry_interval)}"
            out.append(f"{where}: worst case {_secs(need)} ({how}) is beyond {share:.0%} of "
                       f"interval {_secs(spec.interval)} ({_secs(have)}): the daemon cuts "
                       "the check short there")
    return out
