"""Parse one maintenance feed in a child process, so a runaway feed can be stopped.

A recurrence rule can ask for billions of occurrences before the first one inside
the horizon (FREQ=SECONDLY from 1990): the expansion is library code that no
thread can interrupt. The daemon and the CLI run `parse_feed` here instead, as
`python -m slaprobe.maintenance.feedworker`, under a time limit (the parent kills the child)
and an address-space limit (set here, when the platform allows it).

Protocol: stdin is one JSON line `{"source", "content_type", "horizon"}` followed
by the feed's bytes; stdout is one JSON object, `{"windows": [...], "problems":
[...]}` or `{"error": "..."}`. The source travels on stdin, not argv, because a
feed URL may carry a password.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import resource
import sys
from typing import Any

from slaprobe.core.maintenance.feeds import FeedError, parse_feed

MEMORY_LIMIT = 1 << 30  # bytes of address space for one feed's parse


def _limit_memory() -> None:
    with contextlib.suppress(OSError, ValueError):  # e.g. a seccomp filter without @resources
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(meta: dict[str, Any], data: bytes) -> dict[str, Any]:
    source = str(meta["source"])
    problems: list[str] = []
    try:
        lo, hi = meta["horizon"]
        windows = parse_feed(data, source=source, content_type=meta.get("content_type"),
                             horizon=(float(lo), float(hi)), problems=problems)
    except FeedError as e:
        return {"error": e.message}
    except MemoryError:
        return {"error": f"parsing needs more than {MEMORY_LIMIT >> 20} MiB "
                         "(is a recurrence rule runaway?)"}
    except Exception as e:  # a bug: the feed's error, never the daemon's crash
        return {"error": f"unexpected {type(e).__name__}: {e}"}
    return {"windows": [dataclasses.asdict(w) for w in windows], "problems": problems}


def main() -> int:
    _limit_memory()
    meta = json.loads(sys.stdin.buffer.readline())
    data = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(run(meta, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
