"""The per-target lines of /metrics, kept from one scrape to the next as columns.

Each per-target series (probe success, last check, state, credit, the ratios of each
window) is a column: one text line per target, in target order. A scrape writes only
the cells whose value changed and serves a column as it stands (an empty line for a
target without that sample), so serving ten thousand targets' lines is a list copy
per series, not a loop over targets. Hand-written: prometheus_client keeps no text
between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from slaprobe.core.reporting.catalogue import MetricDef
from slaprobe.metrics.exposition import Family, Row, sample_prefix, value_text

Series = tuple[MetricDef, tuple[tuple[str, str], ...]]  # a family and the labels after `target`


class TargetLines:
    """The lines of `series` for the targets `names`, each cell with its value."""

    __slots__ = ("keys", "lines", "names", "pos", "prefixes", "series", "starts", "values")

    def __init__(self, series: Sequence[Series], names: Sequence[str]) -> None:
        n = len(names)
        self.series = series
        self.names = list(names)
        self.pos = {name: i for i, name in enumerate(self.names)}
        # a target's line prefixes, made when it is first written (in the scrape's slices)
        self.prefixes: list[tuple[str, ...] | None] = [None] * n
        self.values: list[list[float | None]] = [[None] * n for _ in series]
        self.lines: list[list[str]] = [[""] * n for _ in series]
        # what each target's cells were made of (None: never written), and the start of
        # the one up run its ratios were made from (None: none)
        self.keys: list[tuple[Any, ...] | None] = [None] * n
        self.starts: list[float | None] = [None] * n

    def write(self, i: int, values: Sequence[float | None]) -> None:
        """Target i's cells, one value per series (None: no sample)."""
        pre = self.prefixes[i]
        if pre is None:
            name = self.names[i]
            pre = self.prefixes[i] = tuple(
                sample_prefix(d.sample, (("target", name), *extra)) for d, extra in self.series)
        # (the compare-and-make of set() written out: a call per cell made a scrape of
        # 10,000 young targets 13 % slower)
        for j, v in enumerate(values):
            col = self.values[j]
            if col[i] == v and v != 0.0:  # the same line as last time (0.0 / -0.0: made anew)
                continue
            col[i] = v
            self.lines[j][i] = "" if v is None else pre[j] + value_text(v) + "\n"

    def set(self, j: int, i: int, v: float) -> None:
        """One cell of a target already written."""
        col = self.values[j]
        if col[i] == v and v != 0.0:
            return
        col[i] = v
        self.lines[j][i] = self.prefixes[i][j] + value_text(v) + "\n"  # type: ignore[index]

    def families(self, only: Collection[str] | None = None) -> list[Family]:
        """One family per metric, its series in target order (`only`: these targets)."""
        keep = None if only is None else [i for i, n in enumerate(self.names) if n in only]
        out: list[Family] = []
        for j, (d, _) in enumerate(self.series):
            lines = self.lines[j][:] if keep is None else [self.lines[j][i] for i in keep]
            if out and out[-1].name == d.name:  # a second series of the same family
                out[-1].lines += lines  # type: ignore[operator]
                out[-1].make_rows = _joined(out[-1].make_rows, self._rows(j, keep))
                continue
            out.append(Family(d.name, d.kind, d.help, d.labels, lines=lines,
                              make_rows=self._rows(j, keep)))
        return out

    def _rows(self, j: int, keep: list[int] | None) -> Callable[[], list[Row]]:
        """Series j's rows as they stand now (made only when asked for)."""
        values = self.values[j][:]
        extra = tuple(v for _, v in self.series[j][1])
        names = self.names
        at = range(len(names)) if keep is None else keep

        def rows() -> list[Row]:
            return [("", (names[i], *extra), v) for i in at if (v := values[i]) is not None]
        return rows


def _joined(a: Callable[[], list[Row]] | None, b: Callable[[], list[Row]]
            ) -> Callable[[], list[Row]]:
    def rows() -> list[Row]:
        return [*(a() if a is not None else ()), *b()]
    return rows
