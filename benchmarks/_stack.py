"""The processes the side-by-side benchmarks start (not a benchmark itself).

Debian's `nginx` as the local target (with `stub_status`, so checks are counted
where they arrive, not trusted from either tool), `prometheus-blackbox-exporter`,
`prometheus`, and `slaprobe run`. Every process is started on 127.0.0.1 with its
config in a temporary directory, and a `Stack` stops every process it started,
also on Ctrl-C, SIGTERM or failure (use it as a context manager).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from _common import free_port, http_get, proc_cpu_seconds, proc_status_kb, slaprobe_cmd

NGINX = "nginx"
BLACKBOX = "prometheus-blackbox-exporter"
PROMETHEUS = "prometheus"


def missing_tools() -> list[str]:
    """The Debian packages this benchmark needs that are not installed."""
    found = {NGINX: shutil.which(NGINX) or _sbin(NGINX), BLACKBOX: shutil.which(BLACKBOX),
             PROMETHEUS: shutil.which(PROMETHEUS)}
    return [name for name, path in found.items() if not path]


def _sbin(name: str) -> str | None:
    for d in ("/usr/sbin", "/sbin"):
        p = Path(d) / name
        if p.exists():
            return str(p)
    return None


def _terminate(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # run the finally blocks that stop the processes


class Proc:
    """A started child process with a log file; /proc sampling of CPU and RSS."""

    def __init__(self, name: str, cmd: Sequence[str], log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(list(cmd), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)

    def rss_kb(self) -> int:
        return proc_status_kb(self.pid, "VmRSS")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def wait_http(url: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.tail()}")
        try:
            if http_get(url, timeout=5.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{proc.name}: {url} not 200 within {timeout:g}s:\n{proc.tail()}")


class Stack:
    """A temporary directory and the processes started in it; stops them all on exit."""

    def __init__(self, prefix: str, keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.keep = keep
        self.procs: list[Proc] = []
        self._old: object = None

    def __enter__(self) -> Stack:
        self._old = signal.signal(signal.SIGTERM, _terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()
        signal.signal(signal.SIGTERM, self._old)  # type: ignore[arg-type]
        if self.keep:
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, name: str, cmd: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        p = Proc(name, cmd, self.dir / f"{name}.log", env)
        self.procs.append(p)
        return p

    def stop(self, p: Proc, sig: int = signal.SIGTERM) -> None:
        p.stop(sig)
        if p in self.procs:
            self.procs.remove(p)

    # --- nginx ----------------------------------------------------------------------

    def nginx(self) -> tuple[Proc, int]:
        """nginx on 127.0.0.1: `200 ok` on every path, `stub_status` on /nginx_status."""
        port = free_port()
        root = self.dir / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        conf = root / "nginx.conf"
        conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_timeout 0;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /nginx_status {{ stub_status; }}
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
""", encoding="utf-8")
        exe = shutil.which(NGINX) or _sbin(NGINX) or NGINX
        p = self.start("nginx", [exe, "-c", str(conf), "-p", str(root)])
        wait_http(f"http://127.0.0.1:{port}/nginx_status", p)
        return p, port

    # --- blackbox_exporter --------------------------------------------------------------

    def blackbox(self, timeout: float = 2.0) -> tuple[Proc, int]:
        port = free_port()
        conf = self.dir / "blackbox.yml"
        conf.write_text(
            "modules:\n"
            "  http_2xx:\n"
            "    prober: http\n"
            f"    timeout: {timeout:g}s\n"
            "    http:\n"
            "      preferred_ip_protocol: ip4\n"
            "      valid_status_codes: [200]\n",
            encoding="utf-8")
        p = self.start("blackbox", [
            BLACKBOX, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn"])
        wait_http(f"http://127.0.0.1:{port}/metrics", p)
        return p, port

    # --- Prometheus ----------------------------------------------------------------------

    def prometheus_config(self, name: str, *, blackbox: tuple[int, Sequence[str]] | None = None,
                          slaprobe: int | None = None, interval: float = 15.0,
                          slaprobe_interval: float = 15.0) -> Path:
        """A prometheus.yml: blackbox probing each URL every `interval` and/or slaprobe
        scraped every `slaprobe_interval` (JSON is YAML)."""
        jobs: list[dict[str, object]] = []
        if blackbox is not None:
            port, urls = blackbox
            jobs.append({
                "job_name": "blackbox",
                "scrape_interval": f"{interval:g}s",
                "scrape_timeout": f"{min(interval, 10.0):g}s",
                "metrics_path": "/probe",
                "params": {"module": ["http_2xx"]},
                "static_configs": [{"targets": list(urls)}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{port}"},
                ],
            })
        if slaprobe is not None:
            jobs.append({
                "job_name": "slaprobe",
                "scrape_interval": f"{slaprobe_interval:g}s",
                "scrape_timeout": f"{min(slaprobe_interval, 10.0):g}s",
                "static_configs": [{"targets": [f"127.0.0.1:{slaprobe}"]}],
            })
        path = self.dir / f"{name}.yml"
        path.write_text(json.dumps({"global": {"evaluation_interval": "1m"},
                                    "scrape_configs": jobs}, indent=1), encoding="utf-8")
        return path

    def prometheus(self, name: str, config: Path, port: int | None = None,
                   data: Path | None = None) -> tuple[Proc, int]:
        port = port or free_port()
        data = data or self.dir / f"{name}-data"
        p = self.start(name, [
            PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            "--storage.tsdb.retention.time=1d"])
        wait_http(f"http://127.0.0.1:{port}/-/ready", p)
        return p, port

    # --- slaprobe ------------------------------------------------------------------------

    def slaprobe(self, config: Path, listen: int, name: str = "slaprobe", *,
                 source: Path | None = None, state_dir: Path | None = None,
                 wait: bool = True) -> Proc:
        """`slaprobe run`; from the package under `source` (a checkout's src/) when given;
        with $STATE_DIRECTORY (where a shared history's spool file goes) when given;
        `wait`: until its /readyz answers 200."""
        env = None
        if source is not None or state_dir is not None:
            env = dict(os.environ)
            if source is not None:
                env["PYTHONPATH"] = str(source)
            if state_dir is not None:
                state_dir.mkdir(parents=True, exist_ok=True)
                env["STATE_DIRECTORY"] = str(state_dir)
        p = self.start(name, slaprobe_cmd("run", "--config", str(config), "--log-level",
                                          "warning", "--log-format", "json"), env)
        if wait:
            wait_http(f"http://127.0.0.1:{listen}/readyz", p, timeout=120.0)
        return p


def nginx_requests(port: int) -> int:
    """nginx's request counter (stub_status' third figure); this read counts as one."""
    status, body = http_get(f"http://127.0.0.1:{port}/nginx_status")
    if status != 200:
        raise RuntimeError(f"nginx_status answered {status}")
    lines = body.decode().splitlines()
    return int(lines[2].split()[2])


def promql(port: int, query: str, at: float | None = None) -> list[dict[str, object]]:
    """An instant query's result vector (empty when nothing matched)."""
    q = {"query": query}
    if at is not None:
        q["time"] = f"{at:.3f}"
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(q)
    status, body = http_get(url, timeout=30.0)
    data = json.loads(body)
    if status != 200 or data.get("status") != "success":
        raise RuntimeError(f"PromQL {query!r}: {status} {data.get('error')}")
    result: list[dict[str, object]] = data["data"]["result"]
    return result


def promql_scalar(port: int, query: str, at: float | None = None) -> float:
    """The single value of a query (NaN when it matched nothing)."""
    result = promql(port, query, at)
    if not result:
        return float("nan")
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its direct children (nginx's workers)."""
    total = proc_cpu_seconds(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):  # a worker may be gone by now
            total += proc_cpu_seconds(child)
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(x) for x in text.split()]


def cpu_count() -> int:
    return os.cpu_count() or 1
