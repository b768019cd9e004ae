"""The timelines recomputed from markers agree with the fold of the checks, and a
difference is named with its table and first differing time."""

from __future__ import annotations

import random

from slaprobe.core.evidence.derived import Marker, Run, compare, timeline
from slaprobe.core.history.timeline import fold
from slaprobe.core.model import Check

T0 = 1790812800.0


def _state(c: Check) -> int:
    return -1 if c.state is None else int(c.state)


def markers(checks: list[Check], horizon: float = float("-inf")) -> list[Marker]:
    """What `history.derived` hands over, computed the slow way."""
    out = []
    for i, c in enumerate(checks):
        p = checks[i - 1] if i else None
        cap = c.at + 2 * c.interval
        pcap = None if p is None else p.at + 2 * p.interval
        starts = p is None or _state(c) != _state(p) or c.at > (pcap or 0)
        first = c.at >= horizon and (p is None or p.at < horizon)
        if starts or first:
            out.append(Marker(c.at, _state(c), cap, pcap, starts, False, first))
    last = checks[-1]
    out.append(Marker(last.at, _state(last), last.at + 2 * last.interval, None, False, True,
                      False))
    return out


def random_checks(rng: random.Random) -> list[Check]:
    at, out = T0, []
    for _ in range(rng.randrange(1, 80)):
        at += rng.choice([10.0, 30.0, 30.0, 30.0, 61.0, 200.0])
        kind = rng.choice("1111100nu")
        out.append(Check("app", at, kind == "1", 30.0, network=kind == "n",
                         unknown=kind == "u"))
    return out


def test_markers_give_the_fold_of_the_checks() -> None:
    rng = random.Random(7)
    for _ in range(300):
        checks = random_checks(rng)
        h = fold(checks)
        spans, run, _ = timeline(markers(checks))
        stored = list(zip(h.spans.starts, h.spans.ends, [int(s) for s in h.spans.states],
                          strict=True))
        assert h.open is not None
        stored_run = Run(h.open.start, -1 if h.open.state is None else int(h.open.state),
                         h.open.last_at, h.open.cap_end)
        assert compare("x", stored, stored_run, markers(checks), pruned=False) == ""
        assert run == stored_run
        assert [(s, e) for s, e, _ in spans] == [(s, e) for s, e, _ in stored] or len(
            stored) < len(spans)  # Spans merges contiguous spans of one state


def test_a_changed_span_is_named_at_its_first_differing_instant() -> None:
    checks = [Check("app", T0 + 30 * k, not 3 <= k < 6, 30.0) for k in range(10)]
    h = fold(checks)
    stored = [(s, e, 0) for s, e in zip(h.spans.starts, h.spans.ends, strict=True)]  # all up
    assert h.open is not None
    run = Run(h.open.start, int(h.open.state or 0), h.open.last_at, h.open.cap_end)
    problem = compare("target app at location default", stored, run, markers(checks),
                      pruned=False)
    assert problem.startswith("table spans, target app at location default, from "
                              "2026-10-01T00:01:30Z: stored up")
    assert "its checks give down" not in problem  # the first difference is the up span's end


def test_after_a_prune_only_what_is_held_is_compared() -> None:
    checks = [Check("app", T0 + 30 * k, True, 30.0) for k in range(20)]
    held = checks[8:]  # the first eight pruned
    stored = [(T0 - 9999.0, T0 + 30 * 19, 0)]  # starts long before: not recomputable
    h = fold(checks)
    assert h.open is not None
    run = Run(h.open.start, 0, h.open.last_at, h.open.cap_end)
    assert compare("x", [], run, markers(held, T0 + 30 * 8), pruned=True) == ""
    assert compare("x", stored, None, markers(held, T0 + 30 * 8), pruned=True).startswith(
        "table spans")
