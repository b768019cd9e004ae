"""The attempt statistics keep each target's lines until an attempt changes them:
after any sequence of attempts, targets forgotten and the buckets switched, the text
equals that of the same numbers encoded from their rows, and the text and rows equal
those of statistics that made every line once, at the end."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.metrics.exposition import Family, encode
from slaprobe.metrics.instruments import ProbeStats

OPS = st.lists(st.tuples(st.sampled_from(["observe", "observe", "observe", "forget", "switch"]),
                         st.sampled_from(["app", "api", 'we"ird\\name']),
                         st.sampled_from(["success", "timeout", "bad_status"]),
                         st.floats(0.0, 40.0)), max_size=50)


def from_rows(families: list[Family]) -> bytes:
    return encode([Family(f.name, f.kind, f.doc, f.labels, rows=f.all_rows())
                   for f in families])


def replay(ops: list[tuple[str, str, str, float]], histogram: bool, *,
           every: int | None) -> list[list[Family]]:
    """The ops applied to fresh statistics, their families taken after every `every`-th
    op and after the last (None: after the last only)."""
    stats = ProbeStats(histogram=histogram)
    out = []
    for i, (op, target, result, latency) in enumerate(ops):
        if op == "observe":
            stats.observe(target, result, latency)
        elif op == "forget":
            stats.forget(target)
        else:
            stats.switch(not stats.histogram)
        if (every is not None and i % every == 0) or i == len(ops) - 1:
            out.append(stats.families())
    return out


@settings(max_examples=60, deadline=None)
@given(OPS, st.booleans())
def test_kept_lines_equal_the_rows_encoded_anew(ops: list[tuple[str, str, str, float]],
                                                histogram: bool) -> None:
    for n in range(1, len(ops) + 1):
        kept = replay(ops[:n], histogram, every=3)[-1]
        once = replay(ops[:n], histogram, every=None)[-1]
        assert encode(kept) == from_rows(kept) == encode(once), n
        assert [f.all_rows() for f in kept] == [f.all_rows() for f in once], n


def test_a_quiet_target_keeps_its_lines() -> None:
    stats = ProbeStats(histogram=False)
    stats.observe("app", "success", 0.1)
    stats.observe("api", "success", 0.2)
    first = stats.families()[0].lines or []
    stats.observe("api", "success", 0.3)
    again = stats.families()[0].lines or []
    assert again[0] is first[0]  # app's lines: kept, not made again
    assert again[1] != first[1]  # api's count and sum moved
    assert b'slaprobe_probe_duration_seconds_count{target="api"} 2.0' in encode(
        stats.families())
