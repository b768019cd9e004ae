"""Aligned text tables: the one formatter of every text output."""

from __future__ import annotations

from collections.abc import Sequence

from slaprobe.core.escaping import for_terminal


def table(rows: Sequence[Sequence[str]], *, rule: bool = False) -> list[str]:
    """Rows as aligned columns (the first row a header, underlined when `rule`), every
    cell escaped for the terminal."""
    rows = [[for_terminal(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if rule and i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
