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
from collections.abc import Mapping
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
          journal: bool | None = None) -> None:
    """Configure structlog once for the process."""
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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
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
