"""Under CI (CI=true) a skipped test fails the run, unless tests/conftest.py allows it by name.

Each case runs pytest in a subprocess on a tiny tree laid out as the project's: the
project's tests/conftest.py and test files at the paths the allow-list names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"

SKIPS = """\
import pytest

def test_runs() -> None:
    pass

def test_skips() -> None:
    pytest.skip("no such program here")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure() -> None:
    raise AssertionError
"""

ALLOWED = """\
import pytest

def test_unresolvable_host_with_system_resolver() -> None:
    pytest.skip("no network")

@pytest.mark.parametrize("n", [1, 2])
def test_runs(n: int) -> None:
    pass
"""


def run(tree: Path, ci: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-q", "-rs", *args],
        cwd=tree, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    shutil.copy(CONFTEST, tmp_path / "tests" / "conftest.py")
    return tmp_path


def put(tree: Path, relpath: str, text: str) -> None:
    path = tree / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_skip_fails_the_run_under_ci_and_is_named(tree: Path) -> None:
    put(tree, "tests/test_some.py", SKIPS)
    r = run(tree, "true")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UNEXPECTED SKIP tests/test_some.py::test_skips: Skipped: no such program here" \
        in r.stdout, r.stdout
    assert "test_runs" not in r.stdout.split("skipped under CI", 1)[1].split("short test")[0]
    assert "test_expected_failure" not in r.stdout.split("skipped under CI", 1)[1]


def test_outside_ci_a_skip_is_only_reported(tree: Path) -> None:
    put(tree, "tests/test_some.py", SKIPS)
    for ci in (None, "", "false"):
        r = run(tree, ci)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "UNEXPECTED SKIP" not in r.stdout
        assert "1 skipped" in r.stdout


def test_the_allowed_skip_passes_under_ci(tree: Path) -> None:
    put(tree, "tests/integration/probe/test_prober.py", ALLOWED)
    r = run(tree, "true")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed, 1 skipped" in r.stdout, r.stdout
    assert "UNEXPECTED SKIP" not in r.stdout


def test_a_module_skipped_at_collection_fails_under_ci(tree: Path) -> None:
    put(tree, "tests/test_gone.py",
        "import pytest\npytest.skip('module needs X', allow_module_level=True)\n")
    put(tree, "tests/test_fine.py", "def test_fine() -> None:\n    pass\n")
    r = run(tree, "true")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UNEXPECTED SKIP tests/test_gone.py: " in r.stdout, r.stdout


def test_a_failure_keeps_its_own_exit_status(tree: Path) -> None:
    put(tree, "tests/test_some.py", SKIPS + "\ndef test_fails() -> None:\n    raise ValueError\n")
    r = run(tree, "true")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UNEXPECTED SKIP tests/test_some.py::test_skips" in r.stdout
    r = run(tree, "true", "--collect-only")
    assert r.returncode == 0, r.stdout + r.stderr  # collecting runs nothing: nothing skipped
