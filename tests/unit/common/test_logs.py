"""Repeated failures are logged once per change, counted, and end with a summary;
asyncio's own error reports go through the same folding."""

from __future__ import annotations

import structlog

from slaprobe import logs


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_identical_failures_are_logged_once_then_counted_and_recovered() -> None:
    ticks = Ticks()
    with structlog.testing.capture_logs() as events:
        r = logs.Repeats(structlog.get_logger(), clock=ticks)
        assert r.failed("store", "store_write_failed", error="disk full", checks=3) is True
        assert r.failed("store", "store_write_failed", error="disk full", checks=3) is False
        assert r.failing("store") == 2
        assert r.failed("store", "store_write_failed", error="locked", checks=1) is True
        r.recovered("store", "store_write_recovered")
        r.recovered("store", "store_write_recovered")  # nothing failing: nothing said
    assert events == [
        {"event": "store_write_failed", "log_level": "error", "error": "disk full", "checks": 3},
        {"event": "store_write_failed_repeated", "log_level": "error", "error": "disk full",
         "count": 2},
        {"event": "store_write_failed", "log_level": "error", "error": "locked", "checks": 1},
        {"event": "store_write_recovered", "log_level": "info", "error": "locked",
         "failures": 1},
    ]
    assert r.failing("store") == 0


def test_loop_errors_fold_and_settle_after_quiet() -> None:
    ticks = Ticks()
    with structlog.testing.capture_logs() as events:
        r = logs.Repeats(structlog.get_logger(), clock=ticks, quiet=10.0)
        handler = logs.loop_errors(r)
        for _ in range(3):
            handler(None, {"message": "socket.accept() out of system resource",
                           "exception": OSError(24, "Too many open files")})
        ticks.t = 5.0
        r.settle()  # not quiet long enough
        ticks.t = 10.0
        r.settle()
    error = ("socket.accept() out of system resource: OSError: [Errno 24] Too many open"
             " files")
    assert events == [
        {"event": "event_loop_error", "log_level": "error", "error": error},
        {"event": "event_loop_error_stopped", "log_level": "info", "error": error,
         "failures": 3},
    ]
