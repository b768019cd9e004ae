"""What `slaprobe run` loads on the default config: the optional parts' libraries
(PostgreSQL, TLS certificate parsing, iCalendar feeds, DNS checks, statement signing)
only when a config uses them. Together they are about 23 MB of every daemon's memory."""

from __future__ import annotations

import subprocess
import sys

OPTIONAL = ("psycopg", "cryptography", "icalendar", "recurring_ical_events", "dns")


def loaded_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             f"print(' '.join(m for m in {OPTIONAL!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    return set(out.stdout.split())


def test_the_daemon_and_the_cli_load_none_of_the_optional_libraries() -> None:
    assert loaded_after("import slaprobe.cli, slaprobe.ops.daemon") == set()


def test_each_is_loaded_where_it_is_used() -> None:
    assert loaded_after("import slaprobe.history.pgstore") == {"psycopg"}
    assert loaded_after("from slaprobe.evidence import signed") == {"cryptography"}
    assert loaded_after(  # the first certificate read (not DER here: refused after loading)
        "from slaprobe.probe import tlscerts\n"
        "try:\n    tlscerts._not_after(b'not DER')\nexcept ValueError:\n    pass") \
        == {"cryptography"}
    assert {"dns"} == loaded_after(
        "from slaprobe.config import _record_type\n"
        "class D:\n    def string(self, v, p): return v\n    def problem(self, p, m): pass\n"
        "_record_type(D(), 'A', 'x')")
    assert {"icalendar"} == loaded_after(
        "from slaprobe.core.maintenance import feeds\n"
        "try:\n    feeds._read_calendar(b'', 'feed')\nexcept feeds.FeedError:\n    pass")
