"""systemd service notification (sd_notify) without libsystemd.

Under systemd with ``Type=notify`` the manager passes a datagram socket in
``$NOTIFY_SOCKET``; the daemon tells it ``READY=1`` once it can serve,
``RELOADING=1``/``STOPPING=1`` around reloads and shutdown, and, when the unit
sets ``WatchdogSec=``, ``WATCHDOG=1`` at least every ``$WATCHDOG_USEC``
microseconds. Without systemd (``NOTIFY_SOCKET`` unset) every call here is a
no-op, so the daemon behaves the same when run by hand or in a container.

The watchdog is petted from the asyncio event loop itself
(:func:`watchdog_loop`): if the loop is blocked, by a synchronous call or a
busy coroutine, the pets stop, systemd kills the service with SIGABRT and
``Restart=on-failure`` brings it back.

Protocol reference: sd_notify(3), sd_watchdog_enabled(3).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["Notifier", "notify", "reloading", "status", "status_text", "watchdog_interval",
           "watchdog_loop"]


def _address(raw: str) -> str | None:
    """The socket address for $NOTIFY_SOCKET, or None if it is not usable."""
    if raw.startswith("@"):
        # Linux abstract namespace: a leading NUL byte instead of "@".
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # sd_notify also accepts vsock:CID:PORT; slaprobe never runs in a VM
    # whose manager is on the host side, so anything else is ignored.
    return None


def notify(message: str, *, env: Mapping[str, str] = os.environ) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to systemd.

    Returns True when the datagram was sent; False, and does nothing, when
    ``NOTIFY_SOCKET`` is unset or empty, unusable, or the send fails. Never
    raises and never blocks: a full socket buffer drops the message rather
    than stall the event loop.
    """
    raw = env.get("NOTIFY_SOCKET", "")
    if not raw:
        return False
    address = _address(raw)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.sendto(message.encode("utf-8"), address)
    except OSError:
        return False
    return True


def reloading(monotonic: float) -> str:
    """The message that starts a reload: ``RELOADING=1`` with the CLOCK_MONOTONIC
    time in microseconds (systemd 253+ requires it, older ones ignore it)."""
    return f"RELOADING=1\nMONOTONIC_USEC={int(monotonic * 1_000_000)}"


def status(text: str) -> str:
    """A ``STATUS=`` line (one line: newlines would start new assignments)."""
    return "STATUS=" + " ".join(text.split())


def status_text(states: Mapping[str, int], targets: int, reload: str) -> str:
    """What `systemctl status` shows: targets by state, then the last (re)load.

    ``states`` counts targets by state name (up, down, ...), ``targets`` is how many
    are configured (those not counted have no check yet), ``reload`` says when the
    config was last loaded and how it went.
    """
    counted = sum(states.values())
    parts = [f"{n} {name}" for name, n in sorted(states.items()) if n]
    if targets > counted:
        parts.append(f"{targets - counted} not checked yet")
    return f"{targets} targets: {', '.join(parts) or 'none'}; {reload}"


def watchdog_interval(env: Mapping[str, str] = os.environ) -> float | None:
    """How often to send ``WATCHDOG=1``, in seconds, or None if not asked to.

    systemd sets ``WATCHDOG_USEC`` (the period) and ``WATCHDOG_PID`` (the
    process it expects pets from). If ``WATCHDOG_PID`` is set and is not this
    process, the watchdog belongs to someone else (e.g. a wrapper) and None is
    returned. The interval is half the period, as sd_watchdog_enabled(3)
    recommends, so one late pet does not trip it.
    """
    raw_usec = env.get("WATCHDOG_USEC", "")
    if not raw_usec:
        return None
    try:
        usec = int(raw_usec)
    except ValueError:
        return None
    if usec <= 0:
        return None
    raw_pid = env.get("WATCHDOG_PID", "")
    if raw_pid:
        try:
            pid = int(raw_pid)
        except ValueError:
            return None
        if pid != os.getpid():
            return None
    return usec / 1_000_000 / 2


async def watchdog_loop(
    interval: float,
    *,
    notify: Callable[[str], bool] = notify,
    healthy: Callable[[], bool] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Send ``WATCHDOG=1`` every ``interval`` seconds until cancelled.

    It runs as a task on the daemon's event loop and sleeps with
    ``sleep`` (the daemon's clock), so it only pets while the loop is turning: a blocked
    loop stops the pets and systemd's watchdog fires. ``healthy``, if given,
    is asked before each pet; returning False skips that pet (e.g. the
    scheduler has stopped making progress even though the loop runs).
    """
    if interval <= 0:
        raise ValueError(f"watchdog interval must be positive, not {interval!r}")
    while True:
        if healthy is None or healthy():
            notify("WATCHDOG=1")
        await sleep(interval)


class Notifier:
    """What the daemon tells systemd: READY=1 with its STATUS= at start and after each
    reload, RELOADING=1 before one, STATUS= whenever the text changes (`tick`, from
    housekeeping), STOPPING=1 at the end.

    ``states`` counts the targets by state name and ``targets`` says how many are
    configured (see `status_text`); ``env`` is where ``NOTIFY_SOCKET`` is read.
    """

    def __init__(self, states: Callable[[], Mapping[str, int]], targets: Callable[[], int],
                 *, env: Mapping[str, str] | None = None) -> None:
        self.states = states
        self.targets = targets
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.loaded = ""  # when the config was last (re)loaded and how it went
        self.sent = ""  # the STATUS= text systemd has
        self.started = False

    def _text(self) -> str:
        return status_text(self.states(), self.targets(), self.loaded)

    def ready(self, loaded: str) -> None:
        self.loaded, self.sent, self.started = loaded, "", True
        self.sent = self._text()
        notify("READY=1\n" + status(self.sent), env=self.env)

    def reloading(self, monotonic: float) -> None:
        notify(reloading(monotonic), env=self.env)

    def tick(self) -> None:
        if self.started and (text := self._text()) != self.sent:
            self.sent = text
            notify(status(text), env=self.env)

    def stopping(self) -> None:
        notify("STOPPING=1", env=self.env)

    def watchdog(self) -> float | None:
        return watchdog_interval(self.env)
