"""A lean encoder of the Prometheus text format (0.0.4) for our own metric families.

prometheus_client's `generate_latest` validates and escapes every name on every
sample; our names are fixed and valid, so only label values need escaping. That
makes a 1,000-target scrape several times cheaper, and lets it run in a worker
thread once the figures that read live state have been collected on the loop. Hand-written for
that speed; prometheus_client's own parser reads it back in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TYPES = {"counter": "counter", "gauge": "gauge", "histogram": "histogram",
          "summary": "summary", "info": "gauge", "stateset": "gauge",
          "gaugehistogram": "histogram", "unknown": "untyped"}


def _value(v: float) -> str:
    if v == v and not math.isinf(v):  # noqa: PLR0124 - NaN is the only value unequal to itself
        return repr(float(v))
    if v != v:  # noqa: PLR0124
        return "NaN"
    return "+Inf" if v > 0 else "-Inf"


def _escape(v: str) -> str:
    if "\\" in v or '"' in v or "\n" in v:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return v


@dataclass(slots=True)
class Family:
    """A metric family as plain rows: cheap to fill on the event loop, cheap to encode.

    `name` is the base name (a counter's samples get `_total`); a row is
    (sample suffix, label values, value), and `_bucket` rows carry `le` last.
    """

    name: str
    kind: str
    doc: str
    labels: tuple[str, ...]
    rows: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)

    def add(self, values: Sequence[str], value: float, suffix: str = "") -> None:
        self.rows.append((suffix, tuple(values), value))

    def sample_name(self, suffix: str) -> str:
        return self.name + ("_total" if self.kind == "counter" else suffix)

    def label_names(self, suffix: str) -> tuple[str, ...]:
        return (*self.labels, "le") if suffix == "_bucket" else self.labels

    def text(self, out: list[str]) -> None:
        name = self.sample_name("")
        doc = self.doc.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {self.kind}\n")
        templates: dict[str, str] = {}
        for suffix, values, value in self.rows:
            tpl = templates.get(suffix)
            if tpl is None:
                tpl = templates[suffix] = self._template(suffix)
            out.append(tpl.format(*map(_escape, values), _value(value)))

    def _template(self, suffix: str) -> str:
        """A str.format template for one sample line: `name{a="{}",b="{}"} {}`."""
        sample = self.sample_name(suffix)
        labels = self.label_names(suffix)
        if not labels:
            return sample + " {}\n"
        return sample + "{{" + ",".join(k + '="{}"' for k in labels) + "}} {}\n"


def encode(families: Iterable[Metric | Family]) -> bytes:
    """The text exposition of the given families."""
    out: list[str] = []
    for fam in families:
        if isinstance(fam, Family):
            fam.text(out)
            continue
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        if fam.type == "info":
            name += "_info"
        doc = fam.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {_TYPES.get(fam.type, 'untyped')}\n")
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            if s.labels:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels.items())
                out.append(f"{s.name}{{{labels}}} {_value(s.value)}\n")
            else:
                out.append(f"{s.name} {_value(s.value)}\n")
    return "".join(out).encode()
