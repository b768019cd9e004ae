"""structlog setup: JSON lines when not on a terminal (journald), console otherwise.

Under systemd, stderr is a stream to journald and ``$JOURNAL_STREAM`` names it
(``device:inode``). Then every line starts with its syslog level as ``<N>``
(sd-daemon(3)); journald strips the prefix and stores the line at that priority
(the unit leaves ``SyslogLevelPrefix=`` at its default, yes), so
``journalctl -p err -u slaprobe`` shows the daemon's errors. The prefix is only
written when stderr really is that stream: a terminal or a redirected file
never sees it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog

# sd-daemon(3) / syslog(3) priorities for structlog's level names.
SYSLOG_LEVELS = {
    "critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4,
    "notice": 5, "info": 6, "debug": 7,
}


def syslog_prefix(level: str) -> str:
    """The ``<N>`` prefix journald reads for a structlog level (unknown: info)."""
    return f"<{SYSLOG_LEVELS.get(level.lower(), 6)}>"


def journal_stream(stream: TextIO | None = None, env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``stream`` (default stderr) is the journal stream systemd connected."""
    raw = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = raw.partition(":")
    if not sep:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


class _Prefixed:
    """Wraps the final renderer: prepends the event's syslog level prefix."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        level = str(event_dict.get("level", name))
        return syslog_prefix(level) + str(self.renderer(logger, name, event_dict))


def setup(*, json: bool | None = None, level: str = "info",
          journal: bool | None = None, file: TextIO | None = None) -> None:
    """Configure structlog once for the process (events to stderr, or to `file`)."""
    if json is None:
        json = not sys.stderr.isatty()
    if journal is None:
        journal = journal_stream()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    if journal:
        renderer = _Prefixed(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()],
        ),
        logger_factory=structlog.PrintLoggerFactory(file=file or sys.stderr),
        cache_logger_on_first_use=False,
    )


def error_lines(lines: list[str]) -> None:
    """Print a command's error (first line and indented details) to stderr, at
    error priority when stderr is the journal (e.g. `check` run by ExecReload)."""
    prefix = syslog_prefix("error") if journal_stream() else ""
    for line in lines:
        print(prefix + line, file=sys.stderr)


def get(name: str = "slaprobe") -> Any:
    return structlog.get_logger(name)


class Repeats:
    """Log a failure once per state change, with a count, not once per attempt.

    `failed(key, event, error=..., **fields)` logs at error level when `key` starts
    failing or its error changes (the previous error's repeats are logged first);
    identical errors after that are only counted. `recovered(key, event)` logs, once,
    how many times the failure repeated, and resets it. Failures with no success to
    wait for (`settles=True`) count as over after `quiet` seconds without one
    (`settle()`, called periodically). A flood of identical errors (a full disk,
    descriptors exhausted) is a few log lines, not megabytes a minute.
    """

    def __init__(self, log: Any, *, clock: Callable[[], float] = time.monotonic,
                 quiet: float = 10.0) -> None:
        self.log = log
        self.clock = clock
        self.quiet = quiet
        # key -> [error, count, event, last failure time, settles]
        self._state: dict[str, list[Any]] = {}

    def failed(self, key: str, event: str, *, error: str, settles: bool = False,
               **fields: Any) -> bool:
        """Count a failure; True when it was logged (a new error for this key)."""
        now = self.clock()
        seen = self._state.get(key)
        if seen is not None and seen[0] == error:
            seen[1] += 1
            seen[3] = now
            return False
        if seen is not None and seen[1] > 1:
            self.log.error(f"{seen[2]}_repeated", error=seen[0], count=seen[1])
        self._state[key] = [error, 1, event, now, settles]
        self.log.error(event, error=error, **fields)
        return True

    def recovered(self, key: str, event: str, **fields: Any) -> None:
        seen = self._state.pop(key, None)
        if seen is not None:
            self.log.info(event, error=seen[0], failures=seen[1], **fields)

    def settle(self) -> None:
        """End the settling failures that have been quiet for `quiet` seconds."""
        now = self.clock()
        for key, seen in list(self._state.items()):
            if seen[4] and now - seen[3] >= self.quiet:
                del self._state[key]
                self.log.info(f"{seen[2]}_stopped", error=seen[0], failures=seen[1])

    def failing(self, key: str) -> int:
        """How many times `key` has failed in a row (0: fine)."""
        seen = self._state.get(key)
        return 0 if seen is None else int(seen[1])


def loop_errors(repeats: Repeats) -> Callable[[Any, dict[str, Any]], None]:
    """An event loop exception handler: asyncio's own error reports (e.g. accept() out
    of descriptors, once a second while it lasts) as one log line per kind, counted."""
    def handler(_: Any, context: dict[str, Any]) -> None:
        message = str(context.get("message", "event loop error"))
        exc = context.get("exception")
        error = message if exc is None else f"{message}: {type(exc).__name__}: {exc}"
        repeats.failed(f"loop:{error}", "event_loop_error", error=error, settles=True)
    return handler
