"""Log levels reach journald as `<N>` prefixes when stderr is the journal stream.

systemd sets JOURNAL_STREAM to the device:inode of the stream it connected to
stderr; here the "stream" is a real file whose device:inode the test passes the
same way, so the real program decides exactly as it does under systemd. The
real journal is exercised by the container test (test_systemd_container.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from slaprobe.logs import syslog_prefix

pytestmark = pytest.mark.slow


def busy_port() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, int(s.getsockname()[1])


def write_config(tmp: Path, port: int, interval: str = "1s") -> Path:
    cfg = tmp / "probe.toml"
    cfg.write_text(f"""
[daemon]
listen = "127.0.0.1:{port}"
database = "history.db"
[defaults]
interval = "{interval}"
timeout = "500ms"
[[targets]]
name = "web"
url = "http://127.0.0.1:9/"
""")
    return cfg


def run(tmp: Path, *args: str, journal: str | None) -> list[str]:
    """Run slaprobe with stderr to a file; JOURNAL_STREAM names `journal`'s inode."""
    err = tmp / "stderr.log"
    env = {k: v for k, v in os.environ.items()
           if k not in ("JOURNAL_STREAM", "STATE_DIRECTORY", "NOTIFY_SOCKET")}
    with err.open("wb") as f:
        if journal == "stderr":
            st = os.fstat(f.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        elif journal == "other":
            st = os.stat(tmp)
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-m", "slaprobe", *args], cwd=tmp, stderr=f,
                       stdout=subprocess.DEVNULL, env=env, timeout=60, check=False)
    return err.read_text().splitlines()


def events(lines: list[str]) -> dict[str, tuple[str, dict[str, object]]]:
    out = {}
    for line in lines:
        prefix, brace, rest = line.partition("{")
        if brace:
            e = json.loads(brace + rest)
            out[str(e["event"])] = (prefix, e)
    return out


def test_prefix_values() -> None:
    assert [syslog_prefix(x) for x in ("debug", "info", "warning", "error", "critical")] == [
        "<7>", "<6>", "<4>", "<3>", "<2>"]
    assert syslog_prefix("WARNING") == "<4>"
    assert syslog_prefix("made-up") == "<6>"


def test_daemon_lines_carry_their_level_on_the_journal_stream(tmp_path: Path) -> None:
    sock, port = busy_port()
    with sock:
        lines = run(tmp_path, "run", "--config", str(write_config(tmp_path, port)),
                    journal="stderr")
    got = events(lines)
    assert got["started"][0] == "<6>", lines
    assert got["listen_failed"][0] == "<3>", lines
    assert got["listen_failed"][1]["level"] == "error"


@pytest.mark.parametrize("journal", [None, "other"])
def test_no_prefix_off_the_journal(tmp_path: Path, journal: str | None) -> None:
    sock, port = busy_port()
    with sock:
        lines = run(tmp_path, "run", "--config", str(write_config(tmp_path, port)),
                    journal=journal)
    got = events(lines)
    assert got["started"][0] == "" and got["listen_failed"][0] == "", lines


def test_check_errors_are_errors_in_the_journal(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 9469, interval="soon")
    lines = run(tmp_path, "check", "--config", str(cfg), journal="stderr")
    assert lines[0] == "<3>slaprobe: invalid config:"
    assert any(line.startswith("<3>  defaults.interval:") for line in lines), lines
    plain = run(tmp_path, "check", "--config", str(cfg), journal=None)
    assert plain[0] == "slaprobe: invalid config:"
