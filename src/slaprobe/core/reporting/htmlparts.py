"""Pure HTML building blocks shared by the report page and /status.

Hand-written on purpose: the pages are one self-contained file (inline CSS and
SVG, no script, nothing fetched), small enough for 1,000 targets x 31 days, and
every text goes through `esc` (html.escape). A template engine would add a
dependency without removing any of that.

Per-day bars are inline SVG: one <rect> per UTC day with a <title> (the hover
text) giving the day's exact figure, downtime, excluded and unknown time; the same
figures are in an accessible <table> next to it. Machine-readable values ride in
<data value="..."> so a reader can check every number against the JSON or CSV.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from slaprobe.core.reporting import figfmt
from slaprobe.core.reporting.daily import Day, Scope
from slaprobe.core.slo import Figures

CSS = """
:root{--bg:#fff;--fg:#1b1f24;--mute:#5b6570;--line:#d8dde3;--card:#f6f8fa;
--g:#1f9d55;--w:#d69e2e;--r:#d64545;--x:#6b8fd6;--n:#c3c9d0;--f:#eef1f4}
@media (prefers-color-scheme:dark){:root{--bg:#0f1419;--fg:#e6e9ee;--mute:#98a2ad;
--line:#2c343d;--card:#161d24;--g:#2fb36b;--w:#e0b040;--r:#f06060;--x:#7fa3f0;--n:#3a434d;
--f:#1b232b}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1100px;margin:0 auto;padding:20px 16px 40px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .5em;
border-bottom:1px solid var(--line);padding-bottom:.2em}
.sub{color:var(--mute);margin:0 0 1em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
margin-bottom:14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;
min-width:0}
.card b{display:block;font-size:1.45em;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card>span{color:var(--mute);font-size:.85em}
.badge{display:inline-block;border-radius:4px;padding:0 .45em;font-size:.8em;font-weight:600;
border:1px solid currentColor;white-space:nowrap}
.met{color:var(--g)}.miss{color:var(--r)}.warn{color:var(--w)}.info{color:var(--x)}
.na{color:var(--mute)}
.rows{display:grid;grid-template-columns:minmax(90px,190px) 1fr 6.5em;gap:4px 12px;
align-items:center}
.rows .name{overflow-wrap:anywhere;font-weight:600}
.rows .name small{display:block;font-weight:400;color:var(--mute)}
.rows .fig{text-align:right;font-variant-numeric:tabular-nums}
svg.bars{display:block;width:100%;height:26px}
svg.bars rect{height:1px;width:.82px}
.g{fill:var(--g)}.w{fill:var(--w)}.r{fill:var(--r)}.x{fill:var(--x)}.n{fill:var(--n)}
.f{fill:var(--f)}
.axis{display:flex;justify-content:space-between;color:var(--mute);font-size:.75em;
grid-column:2}
.legend{color:var(--mute);font-size:.85em;margin:.6em 0}
.legend i{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 .3em 0 .8em;
vertical-align:-.05em}
.legend .g{background:var(--g)}.legend .w{background:var(--w)}.legend .r{background:var(--r)}
.legend .x{background:var(--x)}.legend .n{background:var(--n)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.9em;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;
vertical-align:top}
td.n,th.n,.days td{text-align:right}
.days th{font-weight:400}.days thead th{font-size:.8em}
td.wrap{white-space:normal;overflow-wrap:anywhere;min-width:8em}
thead th{color:var(--mute);font-weight:600}
caption{text-align:left;color:var(--mute);padding:4px 0}
details{margin:.4em 0}summary{cursor:pointer;color:var(--mute)}
.none{color:var(--mute)}
.timeline{list-style:none;margin:.3em 0 1em;padding:0 0 0 .9em;border-left:2px solid var(--line)}
.timeline li{margin:.35em 0;overflow-wrap:anywhere}
.timeline time{color:var(--mute);font-variant-numeric:tabular-nums;margin-right:.4em}
.timeline .by{color:var(--mute)}.timeline p{margin:.1em 0 0;white-space:pre-wrap}
h3.inc{font-size:1em;margin:1.1em 0 .2em;overflow-wrap:anywhere}
small.why{display:block;white-space:normal;color:var(--mute);font-weight:400;max-width:28em;
overflow-wrap:anywhere}
footer{margin-top:2em;color:var(--mute);font-size:.8em}
@media (max-width:640px){.rows{grid-template-columns:1fr 5.5em}
.rows .name{grid-column:1/3}.rows svg{grid-column:1}.rows .fig{grid-column:2}
.axis{grid-column:1}main{padding:12px 10px 30px}}
@media print{body{background:#fff;color:#000}*{print-color-adjust:exact;
-webkit-print-color-adjust:exact}main{max-width:none}details{display:block}
summary{display:none}h2{break-after:avoid}tr{break-inside:avoid}}
""".strip()

LEGEND = ('<p class="legend">Each bar is one UTC day (hover for its figures):'
          '<i class="g"></i>objective met<i class="w"></i>below objective'
          '<i class="r"></i>far below (under {far})'
          '<i class="x"></i>excluded only<i class="n"></i>no data</p>')


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def jnum(x: float | bool | None) -> str:
    """A value as the JSON report writes it (for <data value>)."""
    return "" if x is None else json.dumps(x)


def data(x: float | bool | None, shown: str) -> str:
    value = jnum(x) or '""'  # a JSON number needs no quotes in an attribute
    return f"<data value={value}>{esc(shown)}</data>"


def pct(x: float | None, decimals: int = 4) -> str:
    """A ratio shown as a percentage (cut, never rounded up), with its exact value."""
    shown = "n/a" if x is None else figfmt.percent(x, decimals) + "%"
    return data(x, shown)


def dur(seconds: float) -> str:
    return data(seconds, figfmt.duration(seconds))


def far_threshold(objective: float) -> float:
    """Below this a day is drawn red: ten times the allowed unavailability."""
    return max(1.0 - 10.0 * (1.0 - objective), 0.0)


def day_class(f: Figures, objective: float, future: bool = False) -> str:
    a = f.availability
    if a is None:
        if future:
            return "f"
        return "x" if f.excluded > 0 else "n"
    if a >= objective:
        return "g"
    return "w" if a >= far_threshold(objective) else "r"


def day_title(day: str, f: Figures) -> str:
    shown = "no up or down time" if f.availability is None else figfmt.percent(
        f.availability) + "%"
    return (f"{day}: {shown}, down {figfmt.duration(f.down)}, excluded "
            f"{figfmt.duration(f.excluded)}, unknown {figfmt.duration(f.unknown)}")


FULL_DAY = "a whole day up: 100.0000%, down 0s, excluded 0s, unknown 0s"


def _full(d: Day) -> bool:
    f = d.figures
    return f.up == d.end - d.start and f.down == 0 and f.excluded == 0


def bars(scope: Scope, objective: float, now: float | None = None) -> str:
    """One scope's per-day bars as inline SVG: a <rect> per day, grouped by colour.

    A day with anything to say has its own <title> (the hover text: date, figure,
    downtime, excluded, unknown); whole days up share their group's <title>, which
    keeps 1,000 targets x 31 days within a few MB.
    """
    n = len(scope.days)
    groups: dict[str, list[str]] = {}
    full: list[str] = []
    for i, d in enumerate(scope.days):
        if _full(d):
            full.append(f"<rect x={i} />")
            continue
        future = now is not None and d.start >= now
        groups.setdefault(day_class(d.figures, objective, future), []).append(
            f"<rect x={i}><title>{esc(day_title(d.day, d.figures))}</title></rect>")
    parts = [f'<svg class=bars viewBox="0 0 {n} 1" preserveAspectRatio=none role=img '
             f'aria-label="{esc(scope.name)}: daily availability, {n} days; '
             f'figures in the table">']
    if full:
        parts.append(f"<g class=g><title>{FULL_DAY}</title>{''.join(full)}</g>")
    parts += [f"<g class={k}>{''.join(v)}</g>" for k, v in groups.items()]
    parts.append("</svg>")
    return "".join(parts)


ROWS = (("availability %", "a"), ("up s", "u"), ("down s", "d"), ("excluded s", "x"),
        ("unknown s", "k"), ("coverage %", "c"))


def _cell(d: Day, key: str) -> str:
    f = d.figures
    if key == "a":
        return "" if f.availability is None else figfmt.percent(f.availability)
    if key == "c":
        return "" if f.coverage is None else figfmt.percent(f.coverage)
    return figfmt.seconds({"u": f.up, "d": f.down, "x": f.excluded, "k": f.unknown}[key])


def day_table(scope: Scope, *, open_: bool = False) -> str:
    """The accessible table of one scope's per-day figures (the CSV's numbers):
    one column per UTC day (headed YYYY-MM-DD), one row per figure."""
    head = "".join(f"<th>{d.day}" for d in scope.days)  # thead: column headers
    rows = "".join(
        f"<tr data-f={key}><th scope=row>{label}"
        + "".join(f"<td>{_cell(d, key)}" for d in scope.days)
        for label, key in ROWS)
    label = "service" if scope.kind == "service" else "target"
    return (f'<details{" open" if open_ else ""}><summary>Daily figures: {esc(scope.name)}'
            f'</summary><div class="scroll"><table class="days" data-kind="{scope.kind}" '
            f'data-name="{esc(scope.name)}"><caption>{label} {esc(scope.name)}, per UTC day'
            f"</caption><thead><tr><th scope=col>figure{head}</thead><tbody>{rows}</tbody>"
            "</table></div></details>")


def axis(scopes: Iterable[Scope]) -> str:
    first = next(iter(scopes), None)
    if first is None or not first.days:
        return ""
    return (f'<div></div><div class="axis" aria-hidden="true"><span>{first.days[0].day}</span>'
            f'<span>{first.days[-1].day}</span></div><div></div>')


def table(head: list[str], rows: list[list[str]], *, cls: str = "",
          caption: str = "", num: frozenset[int] = frozenset()) -> str:
    """A table from pre-escaped cells; the first column is the row header, columns in
    `num` are right-aligned figures."""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    th = "".join(f'<th scope="col"{" class=n" if i in num else ""}>{esc(h)}</th>'
                 for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(
            (f"<th scope=row>{c}" if i == 0 else f"<td{_cls(c, i in num)}>{c}")
            for i, c in enumerate(r))
        for r in rows)
    return (f'<div class="scroll"><table class="{cls}">{cap}<thead><tr>{th}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _cls(cell: str, num: bool) -> str:
    if cell.startswith("<!--wrap-->"):
        return " class=wrap"
    return " class=n" if num else ""


def wrap(text: str) -> str:
    """Mark a (pre-escaped) cell as free text that may wrap."""
    return "<!--wrap-->" + text


def page(title: str, body: str, *, refresh: int | None = None, feed: str | None = None) -> str:
    """The whole document; `feed`: the (relative) address of its Atom feed, for feed
    readers' autodiscovery (a link, never fetched by the page)."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    if feed:
        meta += (f'<link rel="alternate" type="application/atom+xml" title="{esc(title)}" '
                 f'href="{esc(feed)}">')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            '<meta name="color-scheme" content="light dark">'
            f"{meta}<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")
