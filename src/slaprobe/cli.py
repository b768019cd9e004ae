"""Command line: run | check | once | import | report | incidents | maintenance | demo.

Exit codes: 0 fine, 1 a critical target is down (`once`), 2 bad input (config,
CSV, arguments) with every problem printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from slaprobe import __version__, config, logs
from slaprobe.config import ConfigError, default_path, load
from slaprobe.core.history.importer import CsvError, iter_csv
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import Attempt
from slaprobe.core.probe import budget, certs
from slaprobe.core.reltime import parse_time, resolve_range
from slaprobe.core.reporting import csvout, daily
from slaprobe.core.spec import Config, MaintenanceSpec, ProbeSpec
from slaprobe.core.timefmt import (
    format_duration,
    iso,
    month_range,
    month_start,
    parse_duration,
    plausible,
)
from slaprobe.evidence import statements
from slaprobe.history.pgstore import LocationLockHeld
from slaprobe.history.storeapi import HistoryStore, ImportConflict, StoreError
from slaprobe.history.stores import open_history
from slaprobe.history.writerlock import LockHeld
from slaprobe.incidents import stored as incidents
from slaprobe.maintenance import announcements
from slaprobe.ops import daemon
from slaprobe.probe import prober, probing
from slaprobe.reporting import report
from slaprobe.web import webconfig

EXIT_DOWN = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
FUTURE_SLACK = 60.0  # seconds of clock skew allowed for imported times
TIME_HELP = "RFC 3339 time, a date (00:00 UTC), or relative: now, now-1h, now-7d"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slaprobe", description="SLA-grade uptime probe daemon.")
    p.add_argument("--version", action="version", version=f"slaprobe {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_)
        c.add_argument("--config", type=Path, default=None,
                       help="probe.toml (default: $SLAPROBE_CONFIG, ./probe.toml, "
                            "/etc/slaprobe/probe.toml)")
        _state_dir(c)
        return c

    r = cmd("run", "Run the probe daemon.")
    r.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    r.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    cmd("check", "Validate the config; exit 2 listing every problem.")
    cmd("once", "Probe every target once and print a table; exit 1 if a critical one is down.")
    i = cmd("import", "Backfill check history from a CSV file (all or nothing).")
    i.add_argument("file", type=Path, metavar="FILE.csv")
    i.add_argument("--interval", metavar="DURATION", default=None,
                   help="the covering interval of the imported checks (default: each "
                        "target's configured interval)")
    cmd("verify", "Check the history's hash chain; exit 1 naming the first broken record.")
    rep = cmd("report", "SLA report from the history.")
    g = rep.add_mutually_exclusive_group(required=True)
    g.add_argument("--month", help="a UTC calendar month, YYYY-MM")
    g.add_argument("--from", dest="start", metavar="T", help=TIME_HELP)
    rep.add_argument("--to", dest="end", metavar="T", help=TIME_HELP + " (default: now)")
    rep.add_argument("--format", choices=["text", "json", "markdown", "html", "csv"],
                     default="text")
    inc = cmd("incidents", "Incidents with their response and resolution deadlines.")
    inc.add_argument("--month", help="a UTC calendar month, YYYY-MM (default: this month)")
    inc.add_argument("--from", dest="start", metavar="T", help=TIME_HELP)
    inc.add_argument("--to", dest="end", metavar="T", help=TIME_HELP)
    inc.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    isub = inc.add_subparsers(dest="action", metavar="ACTION")
    ack = isub.add_parser("ack", help="Record the first response to an incident.",
                          description="Record the first response to an incident.")
    ack.add_argument("--config", type=Path, default=None)
    ack.add_argument("incident", metavar="ID", help="the incident id, inc-YYYYMMDDTHHMMSSZ")
    ack.add_argument("--at", metavar="T", default="now", help="when it was acknowledged "
                     "(default now)")
    ack.add_argument("--by", metavar="NAME", default=None, help="who (default: the user)")
    ack.add_argument("--note", metavar="TEXT", default="")
    demo = sub.add_parser(
        "demo", help="A self-contained tour: a simulated CloneNer on 127.0.0.1, a month of "
                     "history, the daemon live, the report in every format.",
        description="A self-contained tour on 127.0.0.1; writes only into a new temporary "
                    "folder, printed at the end. Ctrl-C ends it at any time.")
    demo.add_argument("--duration", type=float, default=90.0, metavar="SECONDS",
                      help="length of the live part (default 90)")
    demo.add_argument("--fast", action="store_true",
                      help="a short live part (20 s, checks every second), e.g. for CI")
    m = sub.add_parser("maintenance", help="Announce or list maintenance windows.")
    msub = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = msub.add_parser("add", help="Announce a window now (appended to the maintenance file).")
    add.add_argument("--config", type=Path, default=None)
    add.add_argument("--start", required=True, metavar="T", help=TIME_HELP)
    add.add_argument("--end", required=True, metavar="T", help=TIME_HELP)
    add.add_argument("--targets", default=None, help="comma-separated; default every target")
    add.add_argument("--reason", required=True)
    add.add_argument("--id", dest="mid", default=None, help="default: derived from the start")
    ls = msub.add_parser("list", help="Every window with its status, notice and time excluded.")
    ls.add_argument("--config", type=Path, default=None)
    for c in (add, ls):
        _state_dir(c)
    return p


def _state_dir(c: argparse.ArgumentParser) -> None:
    c.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                   help="where a relative [daemon] database lives, as systemd's "
                        "$STATE_DIRECTORY (the service's: /var/lib/slaprobe)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = getattr(args, "state_dir", None)  # not an option of `demo`
    if state_dir is not None:
        os.environ["STATE_DIRECTORY"] = str(state_dir.absolute())
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "demo":
            return _demo(args)
        cfg = _load(args.config)
        if args.command == "check":
            return _check(cfg)
        if args.command == "once":
            return asyncio.run(_once(cfg))
        if args.command == "import":
            return _import(cfg, args.file, args.interval)
        if args.command == "report":
            return _report(cfg, args)
        if args.command == "verify":
            return _verify(cfg)
        if args.command == "incidents":
            return _ack(cfg, args) if args.action == "ack" else _incidents(cfg, args)
        if args.action == "add":
            return _maint_add(cfg, args)
        return _maint_list(cfg)
    except ConfigError as e:
        logs.error_lines(["slaprobe: invalid config:", *(f"  {p}" for p in e.problems)])
        return EXIT_INPUT
    except announcements.MaintenanceFileError as e:
        logs.error_lines(["slaprobe: invalid maintenance file:",
                          *(f"  {p}" for p in str(e).splitlines())])
        return EXIT_INPUT
    except StoreError as e:
        logs.error_lines([f"slaprobe: {e}"])
        return EXIT_INPUT
    except KeyboardInterrupt:
        # Ctrl-C: what was under way has been undone (an import's transaction rolls
        # back, `once` cancels its probes); one line, no traceback, the shell's 130
        print("slaprobe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _demo(args: argparse.Namespace) -> int:
    from slaprobe.demo import run as demo  # noqa: PLC0415 - the demo's modules only when asked

    if args.duration <= 0:
        print("slaprobe: --duration must be positive", file=sys.stderr)
        return EXIT_INPUT
    duration, interval = (20.0, 1.0) if args.fast else (args.duration, 2.0)
    return demo.main(duration, interval, main)


def _load(path: Path | None) -> Config:
    """The config. The maintenance file is checked where it matters: `check` and
    `maintenance add` refuse a broken one; readers warn and use its last good windows."""
    return load(path or default_path())


def _maintenance_warning(problems: list[str], kept: str) -> None:
    if problems:
        print(f"slaprobe: warning: invalid maintenance file ({kept}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)


def _check(cfg: Config) -> int:
    web = webconfig.for_config(cfg)  # its problems are config problems (exit 2)
    print(f"{cfg.path}: ok ({len(cfg.targets)} targets, {len(cfg.controls)} controls, "
          f"{len(announcements.static_specs(cfg))} maintenance windows)")
    if web is not None:
        tls = "no TLS" if web.tls is None else f"TLS ({web.tls.client_auth_type})"
        print(f"{web.path}: ok ({tls}, {len(web.users)} basic auth users)")
    for warning in _warnings(cfg, web):
        print(f"slaprobe: warning: {warning}", file=sys.stderr)
    return 0


def _warnings(cfg: Config, web: webconfig.WebConfig | None) -> list[str]:
    """What `check` points out without refusing the config."""
    probes = [*((f"targets[{i}] ({t.name})", t) for i, t in enumerate(cfg.targets)),
              *((f"controls[{i}] ({c.name})", c) for i, c in enumerate(cfg.controls))]
    out = budget.warnings(probes, probing.CHECK_BUDGET)
    if exposed := webconfig.exposure_warning(cfg.daemon.listen_host, web):
        out.append(f"daemon.listen = {cfg.daemon.listen_host}:{cfg.daemon.listen_port}: "
                   f"{exposed}")
    return out


def event_loop_factory(env: Mapping[str, str] | None = None
                       ) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when the optional `uvloop` extra is installed (the daemon
    measured cheaper per check with it; see README "Performance"), unless
    SLAPROBE_EVENT_LOOP=asyncio asks for asyncio's own. None: asyncio's default."""
    if (os.environ if env is None else env).get("SLAPROBE_EVENT_LOOP") == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 (optional)
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run(args: argparse.Namespace) -> int:
    fmt = args.log_format
    logs.setup(json=None if fmt == "auto" else fmt == "json", level=args.log_level)
    path = args.config or default_path()
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(daemon.main(path))
    except ConfigError as e:
        logs.error_lines([f"slaprobe: invalid config {path}:", *(f"  {p}" for p in e.problems)])
        return EXIT_INPUT
    except (StoreError, LockHeld, LocationLockHeld) as e:
        logs.error_lines([f"slaprobe: {e}"])
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 0


async def _once(cfg: Config) -> int:
    try:
        announcements.static_specs(cfg)
    except announcements.MaintenanceFileError as e:  # once probes; it judges no window
        _maintenance_warning(str(e).splitlines(), "probing anyway")
    limit = asyncio.Semaphore(cfg.daemon.max_concurrency)

    async def one(spec: ProbeSpec) -> tuple[ProbeSpec, list[Attempt]]:
        async with limit:
            # the daemon's budget, so `once` judges a slow target as the daemon would
            return spec, await prober.check(
                spec, budget=budget.budget(spec, probing.CHECK_BUDGET))

    results = await asyncio.gather(*(one(t) for t in cfg.targets))
    rows = [["target", "critical", "result", "status", "latency", "attempts", "cert", "detail"]]
    down = False
    now = time.time()
    for spec, attempts in results:
        last = prober.verdict(attempts)
        cert = next((a.cert for a in reversed(attempts) if a.cert is not None), None)
        down |= spec.critical and not last.ok and not last.unknown
        result = ("up (degraded)" if last.degraded else "up") if last.ok else (
            f"UNKNOWN ({last.error})" if last.unknown else f"DOWN ({last.error})")
        rows.append([
            spec.name, "yes" if spec.critical else "no", result,
            "-" if last.status is None else str(last.status),
            f"{last.latency * 1000:.0f}ms", str(len(attempts)), certs.days_text(cert, now),
            last.detail,
        ])
    print("\n".join(report.table(rows)))
    return EXIT_DOWN if down else 0


def _history(cfg: Config, *, create: bool) -> Path:
    """The database's absolute path; StoreError if a reader would have to create it."""
    path = config.database_path(cfg).absolute()
    if not create and not path.exists():
        hint = ("" if os.environ.get("STATE_DIRECTORY") else
                "; the service's history is under its state directory: add "
                "--state-dir /var/lib/slaprobe (or set STATE_DIRECTORY)")
        raise StoreError(f"no history at {path} (the database does not exist){hint}")
    return path


def _store(cfg: Config, *, read_only: bool) -> HistoryStore:
    """The history the config names: a SQLite file, or a shared PostgreSQL database
    (a reader of an empty one is told so: StoreError)."""
    if config.shared(cfg):
        return open_history(cfg, read_only=read_only)
    path = _history(cfg, create=not read_only)
    if not path.exists():
        print(f"slaprobe: note: {path} did not exist; starting an empty history there",
              file=sys.stderr)
    return open_history(path, read_only=read_only, location=cfg.daemon.location)


def _open(cfg: Config, *, read_only: bool = False) -> tuple[HistoryStore, list[Window]]:
    """Open the store and give every window its verdict, feeds included: fetched now, or
    their last good windows when a feed is down. A writer (import, maintenance add)
    records first sight of each window; a reader (report, maintenance list) only reads,
    judging a window it has never seen as first seen now.

    Readers never make a history: a database that does not exist is an error naming
    the absolute path looked at. Writers may start one, but only in a directory that
    exists (Store refuses to make directories)."""
    store = _store(cfg, read_only=read_only)
    now = time.time()
    feeds: list[MaintenanceSpec] = []
    if cfg.slo.maintenance_feeds:
        feeds = asyncio.run(announcements.feed_specs(cfg, store, now))
    static, problems = announcements.kept_specs(cfg, store)
    _maintenance_warning(problems, "using its last good windows")
    specs = announcements.gather(static, feeds)
    return store, announcements.record_and_resolve(store, cfg, specs, now)


def _import(cfg: Config, path: Path, interval_text: str | None) -> int:
    intervals = {t.name: t.interval for t in cfg.targets}
    if interval_text is not None:
        try:
            interval = parse_duration(interval_text)
        except ValueError as e:
            print(f"slaprobe: --interval: {e}", file=sys.stderr)
            return EXIT_INPUT
        if interval <= 0:
            print("slaprobe: --interval: must be more than 0", file=sys.stderr)
            return EXIT_INPUT
        intervals = dict.fromkeys(intervals, interval)
    store, _ = _open(cfg)
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            result = store.import_checks(
                iter_csv(f, intervals, not_after=time.time() + FUTURE_SLACK))
    except OSError as e:
        print(f"slaprobe: cannot read {path}: {e.strerror or e}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeDecodeError as e:
        print(f"slaprobe: {path}: not UTF-8 text ({e.reason} at byte {e.start}); "
              "nothing imported", file=sys.stderr)
        return EXIT_INPUT
    except (CsvError, ImportConflict) as e:
        print(f"slaprobe: {path}: {e} (nothing imported)", file=sys.stderr)
        return EXIT_INPUT
    finally:
        store.close()
    print(f"imported {result.inserted} checks from {path} ({result.skipped} already stored, "
          "skipped)")
    for target, part in result.filled.items():
        print(f"  {target}: filled {_dur(part.seconds)} of unknown time in {iso(part.start)}"
              f" .. {iso(part.end)} (coverage {part.coverage * 100:.1f}%)")
    return 0


def _dur(seconds: float) -> str:
    return format_duration(round(seconds)) if seconds >= 1 else f"{seconds:.1f}s"


def _verify(cfg: Config) -> int:
    """Walk the chain read-only; 0 intact, 1 naming the first record that was changed,
    deleted or inserted outside slaprobe."""
    store = _store(cfg, read_only=True)  # a reader: a missing database is exit 2, naming it
    path = store.name
    try:
        verdict = store.verify()
        if verdict.ok:
            terms = announcements.terms(store, cfg, time.time())
            for month, text in sorted(statements.stored(store).items()):
                problem = statements.recheck(store, month, text, terms,
                                             quorum=cfg.slo.quorum)
                if problem:
                    verdict = dataclasses.replace(
                        verdict, ok=False, problem=f"the statement of {month} does not match "
                                                   f"the history: {problem}")
                    break
    finally:
        store.close()
    if not verdict.ok:
        logs.error_lines([f"slaprobe: history of {path} is NOT intact: {verdict.problem}"])
        return EXIT_DOWN
    print(f"history of {path} intact: {verdict.records} chain records, {verdict.checks} "
          f"checks; head {verdict.head}")
    return 0


def _range(args: argparse.Namespace, now: float) -> tuple[float, float]:
    """[from, to) of --month or --from/--to; neither: this UTC month."""
    if args.month is None and args.start is None and args.end is None:
        start = month_start(now)
        return start, month_range(iso(start)[:7])[1]
    return resolve_range(args.month, args.start, args.end, now)


def _incident_history(cfg: Config, since: float, now: float,
                      ) -> tuple[Tracker, dict[str, float]]:
    """The tracker from `since` and each incident's first acknowledgement (a reader)."""
    store, windows = _open(cfg, read_only=True)
    try:
        return (report.load_tracker(cfg, store, since, windows, now),
                incidents.first_acks(store.acks()))
    finally:
        store.close()


def _incidents(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    try:
        a, b = _range(args, now)
    except ValueError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT
    tracker, acks = _incident_history(cfg, a - incidents.LOOKBACK, now)
    items = incidents.in_range(cfg, tracker, acks, a=a, b=b, now=now)
    sys.stdout.write(incidents.render(incidents.document(items, a, b), args.format, cfg.support))
    return 0


ACK_SEARCH = 93 * 86400.0  # how far back `incidents ack` looks for the incident


def _ack(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    try:
        at = parse_time(args.at, now)
    except ValueError as e:
        print(f"slaprobe: --at: {e}", file=sys.stderr)
        return EXIT_INPUT
    by = args.by if args.by is not None else _user()
    if not by.strip():
        print("slaprobe: --by must not be empty", file=sys.stderr)
        return EXIT_INPUT
    store, windows = _open(cfg)
    try:
        since = now - ACK_SEARCH
        tracker = report.load_tracker(cfg, store, since - incidents.LOOKBACK, windows, now)
        acks = incidents.first_acks(store.acks())
        items = incidents.from_tracker(cfg, tracker, acks, since - incidents.LOOKBACK, now)
        try:
            inc = incidents.check_ack(items, args.incident.strip(), at, now)
        except incidents.AckRefused as e:
            print(f"slaprobe: {e}", file=sys.stderr)
            return EXIT_INPUT
        first = store.record_ack(inc.id, at, by, args.note, now)
    finally:
        store.close()
    judged = incidents.judge(inc.shape, cfg.support, now, first.at)
    counted = "" if first.at == at and first.by == by else (
        f" (already acknowledged {iso(first.at)} by {first.by}: the first one counts)")
    print(f"acknowledged {inc.id} at {iso(at)} by {by}{counted}; response "
          f"{judged.response} (deadline {iso(judged.response_deadline)})")
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _report(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    try:
        a, b = resolve_range(args.month, args.start, args.end, now)
    except ValueError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT
    store, windows = _open(cfg, read_only=True)
    try:
        statement = statements.stored(store).get(args.month or "")
        # from LOOKBACK before: an incident overlapping the range keeps its start
        tracker = report.load_tracker(cfg, store, a - incidents.LOOKBACK, windows, now)
        acks = incidents.first_acks(store.acks())
        tls = report.certificates(cfg, store, a, b, now)
    finally:
        store.close()
    if statement is not None and args.format in ("json", "text", "markdown"):
        if args.format == "json":  # a closed month: its statement, byte for byte
            sys.stdout.write(statement)
        else:
            render_stmt = {"markdown": report.render_markdown, "text": report.render_text}
            sys.stdout.write(render_stmt[args.format](json.loads(statement),
                                                      cfg.daemon.service))
        return 0
    rep = report.build(cfg, tracker, a, b, now, acks=acks,
                       certificates=tls)
    if args.format == "csv":
        sys.stdout.write(csvout.render(daily.build(tracker, cfg.daemon.service, a, b, now)))
        return 0
    if args.format == "html":
        sys.stdout.write(report.render_html(cfg, tracker, rep, now))
        return 0
    if args.format == "json":
        sys.stdout.write(report.render_json(rep))
        return 0
    render = {"markdown": report.render_markdown, "text": report.render_text}[args.format]
    sys.stdout.write(render(rep, cfg.daemon.service, cfg.support))
    return 0


def _maint_add(cfg: Config, args: argparse.Namespace) -> int:
    path = config.maintenance_file_path(cfg)
    if path is None:
        print("slaprobe: set [slo] maintenance_file in the config to add windows",
              file=sys.stderr)
        return EXIT_INPUT
    now = time.time()
    try:
        start = plausible(parse_time(args.start, now), f"--start {args.start!r}")
        end = plausible(parse_time(args.end, now), f"--end {args.end!r}")
    except ValueError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT
    if end <= start:
        print("slaprobe: --end must be after --start", file=sys.stderr)
        return EXIT_INPUT
    targets = None
    if args.targets:
        targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        unknown = [t for t in targets if cfg.target(t) is None]
        if unknown:
            print(f"slaprobe: --targets: no target named {', '.join(unknown)}", file=sys.stderr)
            return EXIT_INPUT
    existing = {s.id for s in announcements.static_specs(cfg)}
    if args.mid in existing:
        print(f"slaprobe: --id: a window {args.mid!r} already exists (edit it, or pick another "
              "id; a changed window is a new announcement for its changed part)",
              file=sys.stderr)
        return EXIT_INPUT
    mid = args.mid or "maint-" + iso(start).replace(":", "").replace("-", "")[:13].lower()
    base, n = mid, 2
    while mid in existing:
        mid, n = f"{base}-{n}", n + 1
    spec = MaintenanceSpec(id=mid, start=start, end=end, announced=now, targets=targets,
                           reason=args.reason, source=str(path))
    announcements.append_window(path, spec)
    store, windows = _open(cfg)
    store.close()
    w = next((w for w in windows if w.id == mid), None)
    status = w.status if w else "?"
    print(f"added {mid}: {iso(start)} .. {iso(end)} to {path}; notice "
          f"{format_duration(max(start - now, 0))}: {status}")
    return 0


def _maint_list(cfg: Config) -> int:
    store, windows = _open(cfg, read_only=True)
    store.close()
    now = time.time()
    rows = [["id", "start", "end", "targets", "status", "notice", "excluded so far", "reason"]]
    for w in windows:
        notice = format_duration(abs(w.notice)) + (" after start" if w.notice < 0 else "")
        so_far = w.excluded_within(w.start, now)
        rows.append([w.id, iso(w.start), iso(w.end),
                     "all" if w.targets is None else ",".join(w.targets), w.status, notice,
                     format_duration(so_far), w.reason])
    print("\n".join(report.table(rows)))
    return 0
