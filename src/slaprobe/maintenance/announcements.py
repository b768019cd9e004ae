"""Where maintenance windows come from: probe.toml, the maintenance file, feeds.

Reading and appending the maintenance file is I/O; `gather` combines sources and
`record_and_resolve` notes first sight of each window in the store, then gives the verdicts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp

from slaprobe.config import maintenance_file_path, parse_maintenance
from slaprobe.core.evidence.terms import TermsHistory, of_config
from slaprobe.core.maintenance.rules import Window, resolve
from slaprobe.core.spec import Config, MaintenanceSpec
from slaprobe.core.timefmt import iso
from slaprobe.history.storeapi import HistoryStore
from slaprobe.maintenance.feedfetch import FeedCache, refresh

FEED_HORIZON_AHEAD = 90 * 86400.0  # recurring feed windows are expanded this far ahead
FILE_SOURCE = "maintenance_file:"  # the store keeps the file's last good windows under this


class MaintenanceFileError(Exception):
    pass


def read_file(path: Path, target_names: set[str]) -> tuple[MaintenanceSpec, ...]:
    """The windows in the maintenance file; a missing file has none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as e:
        raise MaintenanceFileError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise MaintenanceFileError(f"{path}: invalid TOML: {e}") from None
    unknown = [k for k in raw if k != "maintenance"]
    problems = [f"{path}: {k}: unknown key" for k in unknown]
    specs, more = parse_maintenance(
        raw.get("maintenance", []), source=str(path), section=f"{path}: maintenance",
        target_names=target_names,
    )
    problems += more
    if problems:
        raise MaintenanceFileError("\n".join(problems))
    return specs


def file_mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def append_window(path: Path, spec: MaintenanceSpec) -> None:
    """Append a [[maintenance]] table, atomically (temp file + rename)."""
    try:
        old = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        old = "# Maintenance windows, added by `slaprobe maintenance add` or by hand.\n"
        mode = 0o644  # the daemon (another user) must be able to read it
    lines = [
        "", "[[maintenance]]",
        f"id = {_toml_str(spec.id)}",
        f"start = {iso(spec.start)}",
        f"end = {iso(spec.end)}",
        f"announced = {iso(spec.announced)}",
    ]
    if spec.targets is not None:
        lines.append("targets = [" + ", ".join(_toml_str(t) for t in spec.targets) + "]")
    if spec.reason:
        lines.append(f"reason = {_toml_str(spec.reason)}")
    text = old.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)  # mkstemp makes 0600: keep the file's own mode
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _toml_str(s: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = "".join(
        "\\" + ch if ch in '"\\'
        else f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7F
        else ch
        for ch in s
    )
    return f'"{out}"'


def gather(*sources: Iterable[MaintenanceSpec]) -> list[MaintenanceSpec]:
    """All windows, the first of any repeated id kept."""
    out: dict[str, MaintenanceSpec] = {}
    for source in sources:
        for spec in source:
            out.setdefault(spec.id, spec)
    return list(out.values())


def record_and_resolve(
    store: HistoryStore, cfg: Config, specs: Iterable[MaintenanceSpec], now: float,
) -> list[Window]:
    """Record first sight of each window version and of the terms, then give every
    window its verdict under the notice in force when that version was first seen."""
    specs = list(specs)
    history = terms(store, cfg, now)
    seen = store.record_seen(specs, now)
    return resolve(
        specs, seen, notice=cfg.slo.maintenance_notice,
        allow_retroactive=cfg.slo.allow_retroactive_maintenance, terms=history,
    )


def terms(store: HistoryStore, cfg: Config, now: float) -> TermsHistory:
    """Record the config's SLA terms as first seen now (unless unchanged); all versions."""
    return store.record_terms(of_config(cfg), now)


async def feed_specs(
    cfg: Config, store: HistoryStore, now: float, *, session: aiohttp.ClientSession | None = None,
    cache: FeedCache | None = None, log: Any = None,
) -> list[MaintenanceSpec]:
    """The feeds' windows now: fetched afresh; a feed that fails gives its last good
    windows (from `cache`, else from the store). Good reads are kept in the store."""
    sources = cfg.slo.maintenance_feeds
    cache = FeedCache() if cache is None else cache
    for source in sources:
        if not cache.has(source):
            stored = await asyncio.to_thread(store.feed_windows, source)
            if stored:
                cache.update(source, stored)
    await refresh(cache, sources, session=session,
                  horizon=(now - cfg.daemon.retention, now + FEED_HORIZON_AHEAD),
                  log=log or _StderrLog())
    for source in sources:
        if source not in cache.last_error and not store.read_only:
            await asyncio.to_thread(store.save_feed, source, cache.windows(source))
    return [w for source in sources for w in cache.windows(source)]


class _StderrLog:
    """For the CLI: feed problems as one line each on stderr."""

    def _say(self, event: str, **kw: Any) -> None:
        detail = " ".join(f"{k}={v}" for k, v in kw.items())
        print(f"slaprobe: {event} {detail}", file=sys.stderr)

    def warning(self, event: str, **kw: Any) -> None:
        self._say(event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        pass


def kept_specs(cfg: Config, store: HistoryStore) -> tuple[list[MaintenanceSpec], list[str]]:
    """Windows from probe.toml and the maintenance file, and the file's problems.

    A good read is kept in the store; a broken file (bad TOML, a bad window, an id
    clash) gives its last good windows from there instead, with every problem, so
    probing and reporting go on while someone fixes it.
    """
    path = maintenance_file_path(cfg)
    try:
        specs = static_specs(cfg)
    except MaintenanceFileError as e:
        kept = [] if path is None else [
            dataclasses.replace(w, source=str(path))
            for w in store.feed_windows(FILE_SOURCE + str(path))]
        return gather(cfg.maintenance, kept), str(e).splitlines()
    if path is not None and not store.read_only:  # readers keep nothing; the daemon does
        store.save_feed(FILE_SOURCE + str(path), [w for w in specs if w.source == str(path)])
    return specs, []


def static_specs(cfg: Config) -> list[MaintenanceSpec]:
    """Windows from probe.toml and the maintenance file (raises MaintenanceFileError)."""
    path = maintenance_file_path(cfg)
    names = {t.name for t in cfg.targets}
    from_file = read_file(path, names) if path is not None else ()
    in_config = {m.id for m in cfg.maintenance}
    clashes = [m.id for m in from_file if m.id in in_config]
    if clashes:
        raise MaintenanceFileError("\n".join(
            f"{path}: maintenance id {mid!r} is also in the config file" for mid in clashes))
    return gather(cfg.maintenance, from_file)
