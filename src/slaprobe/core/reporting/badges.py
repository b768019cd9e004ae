"""Pure SVG badges: a label and a value, coloured by the objective.

Small, flat, self-contained SVG (no font or image fetched; the width from a per-character
estimate of 11 px Verdana, as badge services do). An undefined figure reads `unknown`
(grey), never 100%. Every text is escaped for XML; the exact ratio rides in a
`data-value` attribute so a reader can check the badge against the report JSON.
"""

from __future__ import annotations

import json
import math
from xml.sax.saxutils import escape, quoteattr

from slaprobe.core.reporting import figfmt
from slaprobe.core.reporting.htmlparts import far_threshold

GREEN, YELLOW, RED, GREY, BLUE = "#1f7a45", "#9a6700", "#c0392b", "#5b6570", "#3b5fa8"
LABEL_BG = "#3d444d"
UNKNOWN = "unknown"
STATE_COLOUR = {"up": GREEN, "down": RED, "maintenance": BLUE, "probe_network": BLUE,
                "unknown": GREY}
STATE_TEXT = {"up": "up", "down": "down", "maintenance": "maintenance",
              "probe_network": "network issue", "unknown": UNKNOWN}
# days left on a certificate: the alert thresholds (deploy/prometheus rules)
CERT_SOON, CERT_VERY_SOON = 14.0, 3.0
_NARROW = set("fijlrtI.,:;!|' ()[]1")
_WIDE = set("mwMW%@")


def text_width(text: str) -> int:
    """Approximate width in px of `text` at 11 px Verdana."""
    return round(sum(4.0 if c in _NARROW else 10.0 if c in _WIDE else 7.0 for c in text))


def colour(ratio: float | None, objective: float) -> str:
    """Green at or above the objective, yellow below it, red far below (the report's
    per-day colours), grey when undefined."""
    if ratio is None:
        return GREY
    if ratio >= objective:
        return GREEN
    return YELLOW if ratio >= far_threshold(objective) else RED


def availability_text(ratio: float | None) -> str:
    """The figure as the report pages show it: cut to 3 decimals of a percent."""
    return UNKNOWN if ratio is None else figfmt.percent(ratio, 3) + "%"


def svg(label: str, value: str, fill: str, *, data_value: str = "") -> str:
    """One badge: `label` on grey, `value` on `fill`."""
    lw, vw = text_width(label) + 12, text_width(value) + 12
    w = lw + vw
    title = f"{label}: {value}"
    attr = f" data-value={quoteattr(data_value)}" if data_value else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" '
        f'viewBox="0 0 {w} 20" role="img" aria-label={quoteattr(title)}{attr}>'
        f"<title>{escape(title)}</title>"
        f'<rect width="{lw}" height="20" rx="3" fill="{LABEL_BG}"/>'
        f'<rect x="{lw}" width="{vw}" height="20" rx="3" fill="{fill}"/>'
        f'<rect x="{lw}" width="4" height="20" fill="{fill}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2:g}" y="14" text-anchor="middle">{escape(label)}</text>'
        f'<text class="value" x="{lw + vw / 2:g}" y="14" text-anchor="middle">'
        f"{escape(value)}</text></g></svg>\n")


def availability(label: str, ratio: float | None, objective: float) -> str:
    return svg(label, availability_text(ratio), colour(ratio, objective),
               data_value=json.dumps(ratio))


def state(label: str, state_name: str) -> str:
    return svg(label, STATE_TEXT.get(state_name, UNKNOWN), STATE_COLOUR.get(state_name, GREY),
               data_value=state_name)


def certificate_colour(days: float | None) -> str:
    """Green at CERT_SOON days or more, yellow below, red below CERT_VERY_SOON, grey
    when no certificate is recorded."""
    if days is None:
        return GREY
    if days < CERT_VERY_SOON:
        return RED
    return YELLOW if days < CERT_SOON else GREEN


def certificate_text(days: float | None) -> str:
    """`20.0 days` (cut to a tenth, never more than is left), `expired`, or `unknown`."""
    if days is None:
        return UNKNOWN
    if days < 0:
        return "expired"
    return f"{math.floor(round(days * 10, 6)) / 10:.1f} days"


def certificate(label: str, days: float | None) -> str:
    """Days left on the earliest not-after of a TLS target's verified chain."""
    return svg(label, certificate_text(days), certificate_colour(days),
               data_value=json.dumps(days))
