"""URLs fit for messages: a password never shows, everything else does, whether or not
the URL parses (one masking function for every error, log event and output)."""

from __future__ import annotations

import time

import pytest

from slaprobe.core.urls import is_keyword_string, looks_like_url, masked


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:s3cret@host.example:8443/p?q=1", "https://user:***@host.example:8443/p?q=1"),
    ("https://:s3cret@host/", "https://:***@host/"),
    ("https://user@host/", "https://user@host/"),
    ("https://host/feed.ics", "https://host/feed.ics"),
    ("/etc/slaprobe/feed.ics", "/etc/slaprobe/feed.ics"),
    ("http://[::1/broken", "http://[::1/broken"),
    # strings that do not parse: the password is masked all the same
    ("postgresql://u:s3cret@127.0.0.1:99999/db", "postgresql://u:***@127.0.0.1:99999/db"),
    ("postgresql://u:s3cret@[::1/db", "postgresql://u:***@[::1/db"),
    ("postgresql://u:s3/cret@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
    ("postgresql://u:s3#cret@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
    ("postgresql://u:s3?cret@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
    ("postgresql://u:s3@cret@127.0.0.1/db", "postgresql://u:***@127.0.0.1/db"),
    ("postgres ql://u:s3cret@127.0.0.1/db", "postgres ql://u:***@127.0.0.1/db"),
    ("postgresql:/u:s3cret@127.0.0.1/db", "postgresql:/u:***@127.0.0.1/db"),
    ("http://alice:s3cret@127.0.0.1:99999/", "http://alice:***@127.0.0.1:99999/"),
    ("postgresql://db/sla?user=p&password=s3cret&x=1", "postgresql://db/sla?user=p&password=***&x=1"),
    ("host=127.0.0.1 password=s3cret dbname=x", "host=127.0.0.1 password=*** dbname=x"),
    ("host=h password='s3 cret' dbname=x", "host=h password=*** dbname=x"),
    ("host=h sslpassword=s3cret", "host=h sslpassword=***"),
])
def test_masked(url: str, shown: str) -> None:
    assert masked(url) == shown
    assert "s3" not in masked(url).replace("s3cret", "")  # no piece of it either
    assert "cret" not in masked(url)


def test_a_driver_message_quoting_the_url_back_is_masked_too() -> None:
    url = "postgresql://u:s3 cret@[::1/db"
    msg = f'missing "]" in URI: "{url}"'
    assert "s3 cret" not in masked(msg, url)
    assert masked("cannot open postgresql://u:s3cret@h/db: refused") == (
        "cannot open postgresql://u:***@h/db: refused")


def test_connection_string_shapes() -> None:
    assert is_keyword_string("host=127.0.0.1 password=x")
    assert not is_keyword_string("/var/lib/slaprobe/history.db")
    assert looks_like_url("postgresq://u:p@h/db") and looks_like_url("pg:/u:p@h")
    assert not looks_like_url("history.db") and not looks_like_url("./a:b.db")


def test_masking_is_linear_on_hostile_text() -> None:
    """A target's error text passes through `masked`: no input makes it backtrack."""
    for text in ("a://" + "x:" * 50000, "a:/" * 50000, "a" * 100000 + "@",
                 "a:/" + "b" * 50000 + ":" + "@" * 50000, "password=" * 20000):
        started = time.perf_counter()
        masked(text, "http://u:pw@h/")
        assert time.perf_counter() - started < 1.0, text[:20]
