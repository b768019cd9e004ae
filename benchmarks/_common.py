#!/usr/bin/env python3
"""Shared helpers for the slaprobe benchmarks (not a benchmark itself).

- a local "200 ok" HTTP server run in its own process (`python _common.py serve`),
  so its CPU is not charged to the daemon under test;
- starting and stopping `slaprobe run` as a subprocess, with /proc sampling of its
  CPU time and RSS;
- scraping and parsing the Prometheus text format, and a histogram_quantile
  like Prometheus' own.

Everything talks to 127.0.0.1 only. The benchmark scripts import this module from
their own directory (run them as `python benchmarks/bench_*.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import importlib.util
import math
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- small utilities -------------------------------------------------------------


def loadavg() -> str:
    """The machine's load average (1, 5, 15 min), printed beside every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile (q in [0, 1])."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:.1f} MB"


def source_fingerprint() -> str:
    """Which slaprobe is measured: version, a hash of its source files (every package,
    by relative path) and the newest file's mtime (the tree may change between runs;
    no VCS is consulted)."""
    spec = importlib.util.find_spec("slaprobe")
    if spec is None or spec.origin is None:
        return "slaprobe not importable"
    root = Path(spec.origin).parent
    files = sorted(root.rglob("*.py"))
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    newest = max(f.stat().st_mtime for f in files)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest))
    return (
        f"slaprobe {importlib.metadata.version('slaprobe')} at {Path(spec.origin).parent}, "
        f"source sha256 {h.hexdigest()[:12]}, newest file {stamp}"
    )


def slaprobe_cmd(*args: str) -> list[str]:
    """`slaprobe ARGS` run by this interpreter (the venv's python)."""
    return [sys.executable, "-m", "slaprobe", *args]


# --- /proc sampling ------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM, ...), in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


@dataclass
class Measured:
    """A finished child process: exit code, wall and CPU time, peak RSS, output."""

    returncode: int
    wall: float
    cpu: float
    maxrss_kb: int
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], *, timeout: float) -> Measured:
    """Run a command to completion and report its own rusage (via os.wait4, so
    not the sum over every child so far)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
    bufs: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as sel:
            for stream in (p.stdout, p.stderr):
                sel.register(stream, selectors.EVENT_READ)
            while sel.get_map():
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(p.args, timeout)
                for key, _ in sel.select(timeout=1.0):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        bufs[key.fd].append(chunk)
                    else:
                        sel.unregister(key.fileobj)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait
    finally:
        if p.returncode is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    return Measured(
        returncode=p.returncode,
        wall=wall,
        cpu=ru.ru_utime + ru.ru_stime,
        maxrss_kb=ru.ru_maxrss,
        stdout=b"".join(bufs[out_fd]).decode("utf-8", "replace"),
        stderr=b"".join(bufs[err_fd]).decode("utf-8", "replace"),
    )


# --- HTTP ----------------------------------------------------------------------------


def http_get(url: str, timeout: float = 10.0, *, gzip: bool = False) -> tuple[int, bytes]:
    """GET on a fresh connection; (status, raw body: still compressed when `gzip`,
    which asks for it as Prometheus does). Connection errors raise OSError."""
    headers = {"Connection": "close"}
    if gzip:
        headers["Accept-Encoding"] = "gzip"
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # 127.0.0.1 only
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def timed_get(
    url: str,
    timeout: float = 10.0,
    *,
    gzip: bool = False,
) -> tuple[float, int, bytes]:
    """(seconds from request to the whole body read, status, raw body)."""
    t0 = time.perf_counter()
    status, body = http_get(url, timeout, gzip=gzip)
    return time.perf_counter() - t0, status, body


# --- the local target server -------------------------------------------------------------


class OkServer:
    """`python _common.py serve`: an aiohttp server on 127.0.0.1 answering 200 "ok"
    on every path, in a separate process. Use as a context manager."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> OkServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_common.py"), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "PORT\n" once listening
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"ok-server did not start: {line!r}")
        self.port = int(line)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    from aiohttp import web  # noqa: PLC0415 (only the server process needs aiohttp)

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", ok)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# --- the daemon under test -------------------------------------------------------------


@dataclass
class DaemonProc:
    """`slaprobe run --config PATH` as a subprocess, its output in a log file."""

    config: Path
    listen_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0  # perf_counter just before the fork
    _log: object = field(default=None, repr=False)

    def start(self, log_level: str = "warning") -> None:
        log = self.log_path.open("ab")
        self._log = log
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            slaprobe_cmd(
                "run",
                "--config",
                str(self.config),
                "--log-level",
                log_level,
                "--log-format",
                "json",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.listen_port}{path}"

    def wait_ok(self, path: str, timeout: float = 60.0, poll: float = 0.01) -> float:
        """Poll `path` until it answers 200; seconds since the process was started."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"daemon exited with {self.proc.returncode} before {path} answered; "
                    f"log:\n{self.log_tail()}"
                )
            try:
                status, _ = http_get(self.url(path), timeout=5.0)
                if status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(poll)
        raise TimeoutError(f"{path} not 200 within {timeout}s; log:\n{self.log_tail()}")

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def rss_kb(self) -> int:
        return proc_status_kb(self.pid, "VmRSS")

    def hwm_kb(self) -> int:
        return proc_status_kb(self.pid, "VmHWM")

    def stop(self, timeout: float = 30.0) -> tuple[int | None, float]:
        """SIGTERM; (exit code or None if it had to be killed, seconds to exit)."""
        if self.proc is None:
            return None, 0.0
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        return rc, time.perf_counter() - t0

    def kill(self) -> None:
        """Last resort for finally blocks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- Prometheus text format ------------------------------------------------------------

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[dict[str, str], float]


def parse_metrics(text: str, names: Iterable[str] | None = None) -> dict[str, list[Sample]]:
    """Samples by metric name (only `names` when given); comments skipped."""
    wanted = None if names is None else set(names)
    out: dict[str, list[Sample]] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        name = m.group(1)
        if wanted is not None and name not in wanted:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.setdefault(name, []).append((labels, float(m.group(3))))
    return out


def buckets(samples: Iterable[Sample]) -> list[tuple[float, float]]:
    """A histogram's cumulative buckets as (upper bound, count), in order."""
    return sorted((float(lab["le"]), v) for lab, v in samples)


def bucket_delta(
    later: list[tuple[float, float]],
    earlier: list[tuple[float, float]],
) -> list[tuple[float, float]]:
    before = dict(earlier)
    return [(le, v - before.get(le, 0.0)) for le, v in later]


def histogram_quantile(q: float, cum: list[tuple[float, float]]) -> float:
    """Like PromQL's histogram_quantile: linear inside the bucket that holds the
    rank; the lowest bucket starts at 0; a rank in +Inf gives the highest finite
    bound (i.e. "at least this"). NaN with no observations."""
    if not cum or cum[-1][1] <= 0:
        return math.nan
    total = cum[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in cum:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def total(samples: Iterable[Sample], **match: str) -> float:
    return sum(v for lab, v in samples if all(lab.get(k) == x for k, x in match.items()))


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        _serve()
    else:
        sys.exit("usage: _common.py serve   (a local 200-ok server; prints its port)")
