"""The recorder's latest checks keep how many targets are in each state: after any
sequence of checks set, targets removed and the dict changed any other way, the
counts equal a count of every latest check (what systemd's STATUS= shows)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.history.latest import LatestChecks
from slaprobe.core.model import Check
from slaprobe.ops.rooms import states

KINDS = ("up", "down", "network", "unknown")


def check(target: str, at: float, kind: str) -> Check:
    return Check(target, at, kind == "up", 30.0, network=kind == "network",
                 unknown=kind == "unknown")


def recount(last: dict[str, Check]) -> Counter[str]:
    return states(dict(last))  # a plain dict: every check visited


def test_states_of_a_scripted_fleet() -> None:
    last = LatestChecks()
    last["a"], last["b"], last["c"] = check("a", 0, "up"), check("b", 0, "down"), \
        check("c", 0, "unknown")
    assert states(last) == Counter({"up": 1, "down": 1, "unknown": 1})
    last["b"] = check("b", 30, "network")
    last.pop("a")
    assert states(last) == Counter({"probe network down": 1, "unknown": 1})
    del last["c"]
    last.pop("missing", None)
    assert states(last) == Counter({"probe network down": 1}) == recount(last)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "pop", "del", "update", "setdefault",
                                           "popitem", "clear"]),
                          st.sampled_from(["t0", "t1", "t2", "t3"]),
                          st.sampled_from(KINDS)), max_size=60))
def test_counts_equal_a_recount_after_any_changes(ops: list[tuple[str, str, str]]) -> None:
    last = LatestChecks()
    for i, (op, target, kind) in enumerate(ops):
        c = check(target, float(i), kind)
        if op == "set":
            last[target] = c
        elif op == "pop":
            last.pop(target, None)
        elif op == "del" and target in last:
            del last[target]
        elif op == "update":
            last.update({target: c})
        elif op == "setdefault":
            last.setdefault(target, c)
        elif op == "popitem" and last:
            last.popitem()
        elif op == "clear" and i % 7 == 0:
            last.clear()
        assert states(last) == recount(last), (i, op)
        assert sum(last.counts.values()) == len(last)
