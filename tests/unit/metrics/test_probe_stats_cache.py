"""The attempt statistics keep each target's lines with the numbers they were made
of: after any sequence of attempts, targets forgotten and the buckets switched, the
text equals that of the same numbers encoded from their rows, and the rows equal
those of statistics that kept nothing."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.metrics.exposition import Family, encode
from slaprobe.metrics.instruments import ProbeStats

OPS = st.lists(st.tuples(st.sampled_from(["observe", "observe", "observe", "forget", "switch"]),
                         st.sampled_from(["app", "api", 'we"ird\\name']),
                         st.sampled_from(["success", "timeout", "bad_status"]),
                         st.floats(0.0, 40.0)), max_size=50)


def from_rows(families: list[Family]) -> bytes:
    return encode([Family(f.name, f.kind, f.doc, f.labels, rows=list(f.rows))
                   for f in families])


@settings(max_examples=60, deadline=None)
@given(OPS, st.booleans())
def test_kept_lines_equal_the_rows_encoded_anew(ops: list[tuple[str, str, str, float]],
                                                histogram: bool) -> None:
    stats = ProbeStats(histogram=histogram)
    for i, (op, target, result, latency) in enumerate(ops):
        if op == "observe":
            stats.observe(target, result, latency)
        elif op == "forget":
            stats.forget(target)
        else:
            stats.switch(not stats.histogram)
        if i % 3 == 0 or i == len(ops) - 1:
            fams = stats.families()
            assert encode(fams) == from_rows(fams), i
            fresh = copy.deepcopy(stats)
            fresh._kept = ({}, {})
            assert [f.rows for f in fresh.families()] == [f.rows for f in fams], i


def test_a_quiet_target_keeps_its_lines() -> None:
    stats = ProbeStats(histogram=False)
    stats.observe("app", "success", 0.1)
    stats.observe("api", "success", 0.2)
    first = stats.families()[0].lines or []
    stats.observe("api", "success", 0.3)
    again = stats.families()[0].lines or []
    assert again[:3] == first[:3] and all(a is b for a, b in zip(again[:3], first[:3], strict=True))
    assert again[3:] != first[3:]  # api's count and sum moved
    assert b'slaprobe_probe_duration_seconds_count{target="api"} 2.0' in encode(
        stats.families())
