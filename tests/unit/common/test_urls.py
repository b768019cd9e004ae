"""URLs fit for messages: a password never shows, everything else does."""

from __future__ import annotations

import pytest

from slaprobe.core.urls import mask_password


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:s3cret@host.example:8443/p?q=1", "https://user:***@host.example:8443/p?q=1"),
    ("https://:s3cret@host/", "https://:***@host/"),
    ("https://user@host/", "https://user@host/"),
    ("https://host/feed.ics", "https://host/feed.ics"),
    ("/etc/slaprobe/feed.ics", "/etc/slaprobe/feed.ics"),
    ("http://[::1/broken", "http://[::1/broken"),
])
def test_mask_password(url: str, shown: str) -> None:
    assert mask_password(url) == shown
    assert "s3cret" not in mask_password(url)
