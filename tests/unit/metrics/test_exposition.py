"""The lean text encoder: exact lines, escaping, special values, instruments."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from slaprobe.metrics.exposition import Family, encode


def test_a_gauge_family_encodes_exactly() -> None:
    f = Family("slaprobe_x", "gauge", "A gauge.", ("target",))
    f.add(["app"], 1.0)
    f.add(["api"], math.nan)
    assert encode([f]).decode() == (
        "# HELP slaprobe_x A gauge.\n# TYPE slaprobe_x gauge\n"
        'slaprobe_x{target="app"} 1.0\nslaprobe_x{target="api"} NaN\n')


def test_counters_get_total_and_histograms_their_suffixes() -> None:
    c = Family("slaprobe_c", "counter", "A counter.", ())
    c.add([], 3.0)
    h = Family("slaprobe_h", "histogram", "A histogram.", ("t",))
    h.add(["a", "0.5"], 1.0, "_bucket")
    h.add(["a", "+Inf"], 2.0, "_bucket")
    h.add(["a"], 0.75, "_sum")
    h.add(["a"], 2.0, "_count")
    text = encode([c, h]).decode()
    assert "# TYPE slaprobe_c_total counter\nslaprobe_c_total 3.0\n" in text
    assert 'slaprobe_h_bucket{t="a",le="+Inf"} 2.0\n' in text
    assert 'slaprobe_h_sum{t="a"} 0.75\nslaprobe_h_count{t="a"} 2.0\n' in text
    [fc, fh] = text_string_to_metric_families(text)
    assert (fc.name, fc.type, fh.type) == ("slaprobe_c", "counter", "histogram")


def test_label_values_and_help_are_escaped_and_infinities_spelled() -> None:
    f = Family("slaprobe_odd", "gauge", "odd\\help\nsecond line", ("v",))
    f.add(['a"b\\c\nd'], math.inf)
    f.add(["x"], -math.inf)
    text = encode([f]).decode()
    assert "# HELP slaprobe_odd odd\\\\help\\nsecond line\n" in text
    [fam] = text_string_to_metric_families(text)
    assert [(s.labels["v"], s.value) for s in fam.samples] == [
        ('a"b\\c\nd', math.inf), ("x", -math.inf)]


def test_prometheus_client_metrics_encode_like_generate_latest() -> None:
    registry = CollectorRegistry()
    c = Counter("slaprobe_events", "Events.", ["kind"], registry=registry)
    c.labels("a").inc(2)
    text = encode(registry.collect()).decode()
    assert 'slaprobe_events_total{kind="a"} 2.0\n' in text
    assert "_created" not in text
