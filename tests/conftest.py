"""The whole suite: under CI (CI=true, as CI services set it) a skipped test fails the run.

A test that skips because a program or a permission is missing has not passed; CI that is
green while tests skip proves nothing about them. Only the tests named in CI_MAY_SKIP may
skip under CI, each for a reason that no CI machine can fix.
"""

from __future__ import annotations

import os

import pytest

# node id (without parameters) -> why CI may skip it
CI_MAY_SKIP: dict[str, str] = {
    "tests/integration/probe/test_prober.py::test_unresolvable_host_with_system_resolver":
        "asks the machine's DNS server (network); SLAPROBE_NETWORK_TESTS=1 runs it",
}

_UNEXPECTED: list[tuple[str, str]] = []  # (node id, reason) of this run's unexpected skips


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _note(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not in_ci() or not report.skipped or hasattr(report, "wasxfail"):
        return
    if report.nodeid.split("[", 1)[0] in CI_MAY_SKIP:
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    _UNEXPECTED.append((report.nodeid, reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _UNEXPECTED and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _UNEXPECTED:
        return
    terminalreporter.section("skipped under CI (CI=true): the run fails", sep="=", red=True)
    for nodeid, reason in _UNEXPECTED:
        terminalreporter.line(f"UNEXPECTED SKIP {nodeid}: {reason}", red=True)
    terminalreporter.line("(under CI a test may skip only when tests/conftest.py names it in "
                          "CI_MAY_SKIP, with the reason)")
