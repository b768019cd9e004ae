"""A throwaway systemd container for driving the shipped unit for real.

systemd-nspawn boots the host's own systemd on an overlay of the host root: the
lower layer is `/` (read-only in effect), the upper layer a tmpfs mounted in a
private mount namespace (`unshare -m`), so nothing the container writes reaches
the host and the mounts vanish with the last process in that namespace. Before
the boot, the project is installed into a venv made from `/usr/bin/python3`
(what an operator does: a pyenv or home-directory Python breaks under
`ProtectHome=yes`), and the unit and a config are put where docs/operations.md says.
Commands run inside through `nsenter -t <container's systemd> -a`.

Teardown kills the container's init (which ends its PID namespace), then
nspawn, then removes the empty mount point: nothing is left, even when a test
fails half-way.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = "/opt/slaprobe"
SRC = "/opt/slaprobe-src"


def unavailable() -> str | None:
    """Why the container cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn, mounts)"
    for prog, pkg in (("systemd-nspawn", "systemd-container"), ("nsenter", "util-linux"),
                      ("unshare", "util-linux")):
        if shutil.which(prog) is None:
            return f"`{prog}` not installed (apt-get install {pkg})"
    if not Path("/usr/bin/python3").exists():
        return "no /usr/bin/python3 (apt-get install python3)"
    probe = subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, venv"],
                           capture_output=True, check=False)
    if probe.returncode != 0:
        return "/usr/bin/python3 has no venv module (apt-get install python3-venv)"
    if not Path("/lib/systemd/systemd").exists() and not Path("/usr/lib/systemd/systemd").exists():
        return "no systemd on the host to boot"
    return None


class CannotMount(RuntimeError):
    """The kernel refused the tmpfs or overlay mount (e.g. inside an unprivileged container)."""


def _stage_source(into: Path) -> None:
    """The files `pip install` needs: the package, its metadata, the README."""
    into.mkdir()
    shutil.copytree(REPO / "src", into / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, into / name)


SETUP = rf"""
set -eu
base="$1"; stage="$2"; root="$base/root"
mount -t tmpfs -o size=2g,mode=0755 slaprobe-ct "$base" || exit 4
mkdir "$base/upper" "$base/work" "$root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$root" || exit 4
rm -f "$root/etc/machine-id"
# Only loopback in here: "online" never comes, so nothing may wait for it; and the
# host's timers (apt, man-db ...) have no business in a test container.
for unit in systemd-networkd-wait-online.service NetworkManager-wait-online.service \
            timers.target; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
mkdir -p "$root{SRC}"
cp -a "$stage/." "$root{SRC}/"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
chroot "$root" /usr/bin/python3 -m venv {VENV}
chroot "$root" {VENV}/bin/pip install -q --disable-pip-version-check {SRC} \
  >"$base/pip.log" 2>&1 || {{ cat "$base/pip.log" >&2; exit 3; }}
umount "$root/proc"
umount -R "$root/dev"
ln -sf {VENV}/bin/slaprobe "$root/usr/local/bin/slaprobe"
install -m 0644 "$stage/slaprobe.service" "$root/etc/systemd/system/slaprobe.service"
install -d -m 0755 "$root/etc/slaprobe"
cp -a "$stage/etc/." "$root/etc/slaprobe/"
echo ready-to-boot
exec systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --private-network \
  --console=pipe -- systemd.unit=basic.target
"""


class Container:
    def __init__(self, unit: Path, etc: dict[str, str]) -> None:
        self.unit = unit
        self.etc = etc
        self.tmp = Path(tempfile.mkdtemp(prefix="slaprobe-ct-"))
        self.base = self.tmp / "mnt"
        self.base.mkdir()
        self.console = self.tmp / "console.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.init_pid: int | None = None

    # --- life -----------------------------------------------------------------------

    def boot(self, timeout: float = 90) -> None:
        stage = self.tmp / "stage"
        _stage_source(stage)
        shutil.copy2(self.unit, stage / "slaprobe.service")
        (stage / "etc").mkdir()
        for name, text in self.etc.items():
            (stage / "etc" / name).write_text(text)
        with self.console.open("wb") as out:
            self.proc = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "bash", "-c", SETUP, "setup",
                 str(self.base), str(stage)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() == 4:
                raise CannotMount(self.console_text())
            if self.proc.poll() is not None:
                raise RuntimeError(f"container setup exited {self.proc.returncode}: "
                                   f"{self.console_text()}")
            self.init_pid = self._init_pid()
            if self.init_pid is not None:
                r = self.run("systemctl is-system-running --wait", timeout=max(
                    1.0, deadline - time.monotonic()), check=False)
                if r.stdout.strip() in ("running", "degraded"):
                    return
                if r.returncode != 0 and "Failed to connect" not in r.stderr + r.stdout:
                    time.sleep(0.2)
                    continue
            time.sleep(0.2)
        raise RuntimeError(f"container did not boot in {timeout}s: {self.console_text()}")

    def _init_pid(self) -> int | None:
        """The container's systemd: the child of nspawn (which exec'd from the setup)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            exe = os.readlink(f"/proc/{self.proc.pid}/exe")
        except OSError:
            return None
        if not exe.endswith("systemd-nspawn"):
            return None
        try:
            pids = children.read_text().split()
        except OSError:
            return None
        return int(pids[0]) if pids else None

    def teardown(self) -> None:
        if self.init_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)  # ends the container's PID namespace
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def console_text(self) -> str:
        return self.console.read_text(errors="replace")[-4000:] if self.console.exists() else ""

    # --- inside ---------------------------------------------------------------------

    def run(self, command: str, *, timeout: float = 30, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside the container (all its namespaces)."""
        assert self.init_pid is not None
        # A session of its own: no signal sent inside can reach the test's process group.
        r = subprocess.run(
            ["nsenter", "-t", str(self.init_pid), "-a", "/bin/sh", "-c", command],
            capture_output=True, text=True, timeout=timeout, check=False, input=input,
            start_new_session=True,
            env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
        )
        if check and r.returncode != 0:
            raise AssertionError(f"inside: {command!r} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def write(self, path: str, text: str) -> None:
        self.run(f"cat > {shlex.quote(path)}", input=text)
