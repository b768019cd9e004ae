"""`slaprobe status export DIR`: the customer-facing status as static files.

DIR/index.html (the status page: no script, nothing fetched, links relative to it),
DIR/feed.atom and DIR/badge/... (the same paths as the daemon serves under / and
/status/), so a vendor can publish them on any web server or bucket without exposing
the daemon. Every file is made first; then they are written into a new directory
beside DIR and swapped in at once (renameat2 RENAME_EXCHANGE where the kernel has it,
else two renames), so a web server never serves a half-written set. DIR is replaced
only when it is empty or an earlier export (it holds MARKER): nothing else is deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.reporting import statuspage
from slaprobe.core.spec import Config
from slaprobe.history.storeapi import HistoryStore
from slaprobe.reporting import report
from slaprobe.web import pages, statusfiles

MARKER = ".slaprobe-export"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class ExportError(Exception):
    """An export that cannot be written, with the reason for the user."""


def targets_now(cfg: Config, store: HistoryStore, tracker: Tracker, now: float,
                ) -> list[statuspage.TargetNow]:
    """Each target as the history shows it at `now`: its state and its last check."""
    out = []
    live = statusfiles.states(cfg, tracker, now)
    for t in cfg.targets:
        last = None
        for back in (max(10 * t.interval, 600.0), 86400.0):
            checks = store.checks(t.name, now - back, now + 1.0)
            if checks:
                last = checks[-1]
                break
        out.append(statuspage.TargetNow(
            name=t.name, critical=t.critical, state=live[t.name],
            last_check=None if last is None else last.at,
            latency=None if last is None else last.latency,
            error=None if last is None or last.ok else last.error))
    return out


def files(cfg: Config, store: HistoryStore, windows: list[Window], now: float,
          ) -> dict[str, bytes]:
    """Every file of the export by its path relative to DIR."""
    tracker = report_tracker(cfg, store, windows, now)
    live = statusfiles.states(cfg, tracker, now)
    out = {"index.html": pages.compute_status(
        cfg, store, windows, targets=targets_now(cfg, store, tracker, now),
        service_state=live["service"], now=now, static=True)}
    out["feed.atom"] = statusfiles.feed(cfg, store, windows, now, self_href="feed.atom",
                                        page_href="index.html").encode()
    out.update({f"badge/{p}": b for p, b in statusfiles.all_badges(
        cfg, store, windows, tracker, now).items()})
    out[MARKER] = b"made by slaprobe status export; the whole folder is replaced on each run\n"
    return out


def report_tracker(cfg: Config, store: HistoryStore, windows: list[Window], now: float,
                   ) -> Tracker:
    """The timelines of the last day: enough for each scope's state now."""
    return report.load_tracker(cfg, store, statusfiles.since(cfg, now - 86400.0), windows, now)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where not supported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc: int = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def write(target: Path, content: Mapping[str, bytes]) -> None:
    """Write `content` as DIR's whole content, swapped in at once."""
    target = target.absolute()
    if target.exists():
        if not target.is_dir():
            raise ExportError(f"{target} exists and is not a directory")
        if any(target.iterdir()) and not (target / MARKER).exists():
            raise ExportError(f"{target} holds files that no export wrote (no {MARKER}): "
                              "give an empty or new directory")
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"{parent} does not exist")
    new = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    try:
        for rel, data in content.items():
            path = new / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for d in sorted({p for rel in content for p in (new / rel).parents if new in p.parents}
                        | {new}):
            d.chmod(0o755)
        for rel in content:
            (new / rel).chmod(0o644)
        if not target.exists():
            new.rename(target)
            return
        if _exchange(new, target):
            shutil.rmtree(new)  # the old export, now at the temporary name
            return
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
        old.rmdir()
        target.rename(old)
        new.rename(target)
        shutil.rmtree(old)
    except BaseException:
        with contextlib.suppress(OSError):
            if new.exists():
                shutil.rmtree(new)
        raise
