"""A lean encoder of the Prometheus text format (0.0.4) for our own metric families.

prometheus_client's `generate_latest` validates and escapes every name on every
sample; our names are fixed and valid, so only label values need escaping. That
makes a 1,000-target scrape several times cheaper, and lets it run in a worker
thread once the figures that read live state have been collected on the loop. Hand-written for
that speed; prometheus_client's own parser reads it back in the tests.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Row = tuple[str, tuple[str, ...], float]  # (sample suffix, label values, value)
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
    rows: list[Row] = field(default_factory=list)
    # the rows' lines, when the caller made them (keeping each series' prefix itself;
    # an empty line is no sample), and then its rows, made only when asked for
    lines: list[str] | None = None
    make_rows: Callable[[], list[Row]] | None = None

    def add(self, values: Sequence[str], value: float, suffix: str = "") -> None:
        self.rows.append((suffix, tuple(values), value))

    def all_rows(self) -> list[Row]:
        """Every row, also of a family whose lines the caller made."""
        return [*self.rows, *(self.make_rows() if self.make_rows is not None else ())]

    def sample_name(self, suffix: str) -> str:
        return self.name + ("_total" if self.kind == "counter" else suffix)

    def label_names(self, suffix: str) -> tuple[str, ...]:
        return (*self.labels, "le") if suffix == "_bucket" else self.labels

    def text(self, out: list[str], cache: SeriesCache | None = None) -> None:
        """Append this family's lines to `out`; `cache` keeps each series' text up to
        its value from one call to the next (series gone since are forgotten)."""
        name = self.sample_name("")
        doc = self.doc.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {self.kind}\n")
        if self.lines is not None:
            out.extend(self.lines)
            return
        old = {} if cache is None else cache.get(self.name, {})
        new: dict[tuple[str, tuple[str, ...]], tuple[str, float, str]] = {}
        templates: dict[str, str] = {}
        for suffix, values, value in self.rows:
            key = (suffix, values)
            kept = old.get(key)
            if kept is not None and kept[1] == value:  # the same line as last time
                new[key] = kept
                out.append(kept[2])
                continue
            if kept is not None:
                prefix = kept[0]
            else:
                tpl = templates.get(suffix)
                if tpl is None:
                    tpl = templates[suffix] = self._template(suffix)
                prefix = tpl.format(*map(_escape, values))
            line = prefix + _value(value) + "\n"
            new[key] = (prefix, value, line)
            out.append(line)
        if cache is not None:
            cache[self.name] = new

    def _template(self, suffix: str) -> str:
        """A str.format template for a sample line up to its value: `name{a="{}",b="{}"} `."""
        return _template_of(self.sample_name(suffix), self.label_names(suffix))

    def line(self, suffix: str, values: Sequence[str], value: float) -> str:
        """One row's text line (what `text` writes for it)."""
        return self._template(suffix).format(*map(_escape, values)) + _value(value) + "\n"


@functools.lru_cache(maxsize=256)
def _template_of(sample: str, labels: tuple[str, ...]) -> str:
    if not labels:
        return sample + " "
    return sample + "{{" + ",".join(k + '="{}"' for k in labels) + "}} "


def sample_prefix(name: str, labels: Sequence[tuple[str, str]]) -> str:
    """A sample line up to its value: `name{a="x",b="y"} ` (label values escaped)."""
    if not labels:
        return name + " "
    return name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "} "


def value_text(v: float) -> str:
    """A sample's value as the text format writes it."""
    return _value(v)


# family name -> (suffix, label values) -> (the line up to its value, the value, the line)
SeriesCache = dict[str, dict[tuple[str, tuple[str, ...]], tuple[str, float, str]]]


class Encoder:
    """The text exposition of families, each series' line kept from the last call: the
    label values of a thousand targets rarely change and many values neither, so
    most lines are a lookup (one encoding at a time: callers may be on any thread)."""

    def __init__(self) -> None:
        self.cache: SeriesCache = {}
        self._lock = threading.Lock()

    def encode(self, families: Iterable[Metric | Family]) -> bytes:
        with self._lock:
            return _encode(families, self.cache)


def encode(families: Iterable[Metric | Family]) -> bytes:
    """The text exposition of the given families."""
    return _encode(families, None)


def _encode(families: Iterable[Metric | Family], cache: SeriesCache | None) -> bytes:
    out: list[str] = []
    for fam in families:
        if isinstance(fam, Family):
            fam.text(out, cache)
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
