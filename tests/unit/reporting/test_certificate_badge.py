"""The certificate badge: well-formed SVG, the days left cut to a tenth (never more than
is left), coloured by the alert thresholds (14 and 3 days), `unknown` in grey."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from slaprobe.core.reporting import badges

NS = "{http://www.w3.org/2000/svg}"


def read(body: str) -> tuple[str, str, str | None, str]:
    """(value text, value fill, data-value, title) of a badge parsed as XML."""
    root = ET.fromstring(body)
    assert root.tag == f"{NS}svg" and root.get("role") == "img"
    [value] = [t for t in root.iter(f"{NS}text") if t.get("class") == "value"]
    rects = root.findall(f"{NS}rect")
    assert rects[0].get("fill") == badges.LABEL_BG
    fill = rects[1].get("fill")
    assert fill is not None and rects[2].get("fill") == fill
    title = root.find(f"{NS}title")
    assert title is not None and title.text is not None
    return value.text or "", fill, root.get("data-value"), title.text


@pytest.mark.parametrize(("days", "text", "fill"), [
    (20.0, "20.0 days", badges.GREEN),
    (14.0, "14.0 days", badges.GREEN),
    (13.999, "13.9 days", badges.YELLOW),
    (10.0, "10.0 days", badges.YELLOW),
    (3.0, "3.0 days", badges.YELLOW),
    (2.999, "2.9 days", badges.RED),
    (2.0, "2.0 days", badges.RED),
    (2.3, "2.3 days", badges.RED),
    (-0.5, "expired", badges.RED),
    (None, "unknown", badges.GREY),
])
def test_days_text_and_colour(days: float | None, text: str, fill: str) -> None:
    got = read(badges.certificate("api certificate", days))
    assert got == (text, fill, json.dumps(days), f"api certificate: {text}")


def test_label_escaped_and_width_grows_with_it() -> None:
    body = badges.certificate('a<b>&"c', 20.0)
    assert read(body)[3] == 'a<b>&"c: 20.0 days'
    short = ET.fromstring(badges.certificate("a", 20.0)).get("width")
    long = ET.fromstring(badges.certificate("a much longer label", 20.0)).get("width")
    assert short is not None and long is not None and int(long) > int(short)
