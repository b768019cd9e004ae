"""structlog setup: JSON lines when not on a terminal (journald), console otherwise."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def setup(*, json: bool | None = None, level: str = "info") -> None:
    """Configure structlog once for the process."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
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


def get(name: str = "slaprobe") -> Any:
    return structlog.get_logger(name)
