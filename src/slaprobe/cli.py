"""Command line: run | check | once | import | report | incidents | status | maintenance |
demo.

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
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from slaprobe import __version__, config, logs
from slaprobe.config import ConfigError, default_path, load
from slaprobe.core.escaping import for_terminal
from slaprobe.core.evidence import statementfile
from slaprobe.core.history.importer import CsvError, iter_csv
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Incident
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
from slaprobe.history.store import refuse_missing_folder
from slaprobe.history.storeapi import HistoryStore, ImportConflict, LocationLockHeld, StoreError
from slaprobe.history.stores import open_history
from slaprobe.history.writerlock import LockHeld
from slaprobe.incidents import stored as incidents
from slaprobe.incidents import updates as incupdates
from slaprobe.maintenance import announcements
from slaprobe.ops import daemon
from slaprobe.probe import prober, probing
from slaprobe.reporting import report
from slaprobe.web import export as statusexport
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
    cmd("verify", "Check the history's hash chain; exit 1 naming the first broken record."
        ).add_argument("--head", metavar="SEQ:DIGEST", default=None,
                     help="a head published earlier (`head:` of verify, the chain_head log "
                          "event, slaprobe_statement_info): exit 1 when the history no "
                          "longer holds that record (a cut tail)")
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
    _incident_actions(inc)
    demo = sub.add_parser(
        "demo", help="A self-contained tour: a simulated CloneNer on 127.0.0.1, a month of "
                     "history, the daemon live, the report in every format.",
        description="A self-contained tour on 127.0.0.1; writes only into a new temporary "
                    "folder, printed at the end. Ctrl-C ends it at any time.")
    demo.add_argument("--duration", type=float, default=90.0, metavar="SECONDS",
                      help="length of the live part (default 90)")
    demo.add_argument("--fast", action="store_true",
                      help="a short live part (20 s, checks every second), e.g. for CI")
    st = sub.add_parser("status", help="The customer-facing status as static files.")
    ssub = st.add_subparsers(dest="action", required=True, metavar="ACTION")
    exp = ssub.add_parser("export", help="Write the status page, its feed and badges into DIR "
                          "(replaced at once on each run).",
                          description="Write DIR/index.html, DIR/feed.atom and DIR/badge/... "
                          "as static files (no script, nothing fetched, relative links); a "
                          "re-run replaces them atomically.")
    exp.add_argument("dir", type=Path, metavar="DIR")
    exp.add_argument("--config", type=Path, default=None)
    _state_dir(exp)
    _statement_parser(sub)
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


def _incident_actions(inc: argparse.ArgumentParser) -> None:
    isub = inc.add_subparsers(dest="action", metavar="ACTION")
    ack = isub.add_parser("ack", help="Record the first response to an incident.",
                          description="Record the first response to an incident.")
    ack.add_argument("--config", type=Path, default=None)
    ack.add_argument("incident", metavar="ID", help="the incident id, inc-YYYYMMDDTHHMMSSZ")
    ack.add_argument("--at", metavar="T", default="now", help="when it was acknowledged "
                     "(default now)")
    ack.add_argument("--by", metavar="NAME", default=None, help="who (default: the user)")
    ack.add_argument("--note", metavar="TEXT", default="")
    upd = isub.add_parser("update", help="Append an update to an incident's timeline.",
                          description="Append an update to an incident's timeline (chained; "
                                      "a correction is a new update).")
    upd.add_argument("--config", type=Path, default=None)
    upd.add_argument("incident", metavar="ID", help="the incident id, inc-YYYYMMDDTHHMMSSZ")
    upd.add_argument("--status", required=True, choices=list(incupdates.STATUSES))
    upd.add_argument("--text", required=True, metavar="TEXT")
    upd.add_argument("--at", metavar="T", default="now", help="when it was said (default now)")
    upd.add_argument("--by", metavar="NAME", default=None, help="who (default: the user)")


def _statement_parser(sub: Any) -> None:
    st = sub.add_parser("statement", help="Signed monthly statements a customer can verify.")
    ssub = st.add_subparsers(dest="action", required=True, metavar="ACTION")
    kg = ssub.add_parser("keygen", help="Write a new Ed25519 key pair (never overwrites).")
    kg.add_argument("--key", type=Path, required=True, metavar="PATH",
                    help="the private key (PEM, mode 0600): [evidence] signing_key")
    kg.add_argument("--public-key", type=Path, required=True, metavar="PATH",
                    help="the public key (PEM), for customers")
    ex = ssub.add_parser("export", help="A closed month's statement, its chain records and a "
                                        "signature, as one file.")
    ex.add_argument("--month", required=True, help="a closed UTC calendar month, YYYY-MM")
    ex.add_argument("--config", type=Path, default=None)
    ex.add_argument("--out", type=Path, default=None, metavar="FILE",
                    help="where to write it (default: stdout)")
    _state_dir(ex)
    ve = ssub.add_parser("verify", help="Check a statement file; no config or database "
                                        "needed.")
    ve.add_argument("file", type=Path, metavar="FILE")
    ve.add_argument("--public-key", type=Path, default=None, metavar="PATH",
                    help="the vendor's public key: the file must be signed by it")


def _statement(args: argparse.Namespace) -> int:
    """`statement keygen|export|verify`; keygen and verify need no config."""
    from slaprobe.evidence import signed  # noqa: PLC0415 (cryptography: not for `run`)

    try:
        if args.action == "keygen":
            signed.keygen(args.key, args.public_key)
            print(f"wrote {args.key} (private, mode 0600: set [evidence] signing_key to it) "
                  f"and {args.public_key} (public: give it to customers)")
            return 0
        if args.action == "verify":
            return _statement_verify(args)
        return _statement_export(_load(args.config), args)
    except signed.KeyFileError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT


def _statement_export(cfg: Config, args: argparse.Namespace) -> int:
    from slaprobe.evidence import signed  # noqa: PLC0415 (cryptography: not for `run`)

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print(f"slaprobe: --month {args.month!r}: expected YYYY-MM", file=sys.stderr)
        return EXIT_INPUT
    key_path = config.signing_key_path(cfg)
    key = None if key_path is None else signed.load_private(key_path, "evidence.signing_key")
    store = _store(cfg, read_only=True)
    try:
        text = signed.export(store, args.month, key)
    except signed.NotClosed:
        print(f"slaprobe: {args.month} has no statement: it is not closed yet (a month closes "
              "once the daemon records a check after its end)", file=sys.stderr)
        return EXIT_INPUT
    finally:
        store.close()
    if args.out is None:
        sys.stdout.write(text)
    else:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
        print(f"wrote the statement of {args.month} to {args.out}"
              + ("" if key else " (unsigned: no [evidence] signing_key)"), file=sys.stderr)
    return 0


def _statement_verify(args: argparse.Namespace) -> int:
    from slaprobe.evidence import signed  # noqa: PLC0415 (cryptography: not for `run`)

    key = None if args.public_key is None else signed.load_public(args.public_key)
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        print(f"slaprobe: cannot read {args.file}: {e}", file=sys.stderr)
        return EXIT_INPUT
    try:
        month, rep, said = signed.verify(text, key)
    except statementfile.Mismatch as e:
        print(f"slaprobe: {args.file} does NOT verify: {e}", file=sys.stderr)
        return EXIT_DOWN
    svc = rep.get("service", {})
    print(f"{args.file}: the statement of {month} is consistent with its chain records")
    avail = svc.get("availability")
    print(f"service availability: {'undefined' if avail is None else f'{avail * 100:.4f}%'}"
          f" (down {svc.get('down_seconds')} s, excluded {svc.get('excluded_seconds')} s,"
          f" unknown {svc.get('unknown_seconds')} s)")
    for name, t in sorted(rep.get("targets", {}).items()):
        ta = t.get("availability") if isinstance(t, dict) else None
        print(f"target {name}: availability "
              f"{'undefined' if ta is None else f'{ta * 100:.4f}%'}")
    print(f"signature: {said}")
    return 0


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
        if args.command == "statement":
            return _statement(args)
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
            return _verify(cfg, args.head)
        if args.command == "incidents":
            action = {"ack": _ack, "update": _update}.get(args.action or "", _incidents)
            return action(cfg, args)
        if args.command == "status":
            return _status_export(cfg, args.dir)
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
    """uvloop's event loop (a dependency wherever it builds: the daemon measured cheaper
    per check with it, docs/performance.md), unless SLAPROBE_EVENT_LOOP=asyncio asks for
    asyncio's own or uvloop is not installed. None: asyncio's default."""
    if (os.environ if env is None else env).get("SLAPROBE_EVENT_LOOP") == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 (absent where it does not build)
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


def _refuse_missing_folder(cfg: Config) -> None:
    """StoreError (exit 2) naming the path when the SQLite file's folder does not exist."""
    if not config.shared(cfg):
        refuse_missing_folder(config.database_path(cfg).absolute())


def _store(cfg: Config, *, read_only: bool) -> HistoryStore:
    """The history the config names: a SQLite file, or a shared PostgreSQL database
    (a reader of an empty one is told so: StoreError)."""
    if config.shared(cfg):
        return open_history(cfg, read_only=read_only)
    _refuse_missing_folder(cfg)
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
    _refuse_missing_folder(cfg)  # before the file is read: a typo is named first
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


def _head_arg(text: str) -> tuple[int, str]:
    seq, sep, digest = text.strip().partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64 or any(
            c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"--head {text!r}: expected SEQ:DIGEST (a chain record's number and "
                         "its 64 hex digits, as `verify` prints after `head:`)")
    return int(seq), digest


def _verify(cfg: Config, head_text: str | None = None) -> int:
    """Walk the chain read-only; 0 intact, 1 naming the first record that was changed,
    deleted or inserted outside slaprobe, or the head given that the history no longer
    holds (a cut tail)."""
    try:
        head = None if head_text is None else _head_arg(head_text)
    except ValueError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT
    store = _store(cfg, read_only=True)  # a reader: a missing database is exit 2, naming it
    path = store.name
    try:
        verdict = store.verify()
        if verdict.ok and head is not None:
            problem = _head_problem(store, head, verdict.head_seq)
            if problem:
                verdict = dataclasses.replace(verdict, ok=False, problem=problem)
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
          f"checks")
    print(f"head: {verdict.head_seq}:{verdict.head}")
    if head is None:
        print("note: a cut tail (the newest records deleted with their checks) cannot be "
              "known without a head published earlier: give one with --head SEQ:DIGEST")
    else:
        print(f"the history still holds head {head[0]}:{head[1]}")
    return 0


def _head_problem(store: HistoryStore, head: tuple[int, str], top: int) -> str:
    """'' when the (intact) history holds the record `head` names; else what is wrong."""
    seq, digest = head
    held = store.digest_of(seq)
    if held is None:
        return (f"head {seq}:{digest} given is not in the history: it ends at chain record "
                f"#{top}, so records #{top + 1}..#{seq} or more were cut off its tail outside "
                "slaprobe")
    if held != digest:
        return (f"head {seq}:{digest} given does not match chain record #{seq} (digest "
                f"{held}): the history was rewritten from there on outside slaprobe")
    return ""


def _range(args: argparse.Namespace, now: float) -> tuple[float, float]:
    """[from, to) of --month or --from/--to; neither: this UTC month."""
    if args.month is None and args.start is None and args.end is None:
        start = month_start(now)
        return start, month_range(iso(start)[:7])[1]
    return resolve_range(args.month, args.start, args.end, now)


def _incident_history(cfg: Config, since: float, now: float,
                      ) -> tuple[Tracker, incidents.Notes]:
    """The tracker from `since`, each incident's response and updates (a reader)."""
    store, windows = _open(cfg, read_only=True)
    try:
        return (report.load_tracker(cfg, store, since, windows, now), incidents.notes(store))
    finally:
        store.close()


def _incidents(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    try:
        a, b = _range(args, now)
    except ValueError as e:
        print(f"slaprobe: {e}", file=sys.stderr)
        return EXIT_INPUT
    tracker, (acks, ups) = _incident_history(cfg, a - incidents.LOOKBACK, now)
    items = incidents.in_range(cfg, tracker, acks, a=a, b=b, now=now)
    sys.stdout.write(incidents.render(incidents.document(items, a, b, ups), args.format,
                                      cfg.support))
    return 0


ACK_SEARCH = 93 * 86400.0  # how far back `incidents ack` looks for the incident


def _at_and_by(args: argparse.Namespace, now: float) -> tuple[float, str] | None:
    """`--at` and `--by` of `incidents ack|update` (None: refused, said on stderr)."""
    try:
        at = parse_time(args.at, now)
    except ValueError as e:
        print(f"slaprobe: --at: {e}", file=sys.stderr)
        return None
    by = args.by if args.by is not None else _user()
    if not by.strip():
        print("slaprobe: --by must not be empty", file=sys.stderr)
        return None
    return at, by


def _ack(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    if (given := _at_and_by(args, now)) is None:
        return EXIT_INPUT
    at, by = given
    store, windows = _open(cfg)
    try:
        if (inc := _incident(cfg, store, windows, args.incident, at=at, now=now)) is None:
            return EXIT_INPUT
        first = store.record_ack(inc.id, at, by, args.note, now)
        responded, _ = incidents.notes(store)  # an earlier update may be the response
    finally:
        store.close()
    judged = incidents.judge(inc.shape, cfg.support, now, responded.get(inc.id, first.at))
    counted = "" if first.at == at and first.by == by else (
        f" (already acknowledged {iso(first.at)} by {first.by}: the first one counts)")
    print(for_terminal(f"acknowledged {inc.id} at {iso(at)} by {by}{counted}; response "
          f"{judged.response} (deadline {iso(judged.response_deadline)})"))
    return 0


def _incident(cfg: Config, store: HistoryStore, windows: list[Window], incident_id: str, *,
              at: float, now: float) -> Incident | None:
    """The incident `incident_id` that an acknowledgement or an update at `at` is about;
    None when there is none such (said on stderr, with the open incidents listed)."""
    since = now - ACK_SEARCH - incidents.LOOKBACK
    tracker = report.load_tracker(cfg, store, since, windows, now)
    acks, _ = incidents.notes(store)
    items = incidents.from_tracker(cfg, tracker, acks, since, now)
    try:
        return incidents.check_ack(items, incident_id.strip(), at, now)
    except incidents.AckRefused as e:
        print(f"slaprobe: {for_terminal(e)}", file=sys.stderr)
        return None


def _update(cfg: Config, args: argparse.Namespace) -> int:
    now = time.time()
    if (given := _at_and_by(args, now)) is None:
        return EXIT_INPUT
    at, by = given
    text = args.text.strip()
    problem = ("--text must not be empty" if not text else
               f"--text is longer than {incupdates.MAX_TEXT} characters"
               if len(text) > incupdates.MAX_TEXT else "")
    if problem:
        print(f"slaprobe: {problem}", file=sys.stderr)
        return EXIT_INPUT
    store, windows = _open(cfg)
    try:
        if (inc := _incident(cfg, store, windows, args.incident, at=at, now=now)) is None:
            return EXIT_INPUT
        incupdates.record(store, inc.id, at=at, status=args.status, text=text, by=by.strip(),
                          now=now)
        acks, _ = incidents.notes(store)
    finally:
        store.close()
    judged = incidents.judge(inc.shape, cfg.support, now, acks.get(inc.id))
    print(f"updated {inc.id} at {iso(at)} by {by.strip()}: {args.status}; response "
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
        acks, ups = incidents.notes(store)
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
    rep = report.build(cfg, tracker, a, b, now, acks=acks, updates=ups, certificates=tls)
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


def _status_export(cfg: Config, target: Path) -> int:
    now = time.time()
    store, windows = _open(cfg, read_only=True)
    try:
        content = statusexport.files(cfg, store, windows, now)
    finally:
        store.close()
    try:
        statusexport.write(target, content)
    except (statusexport.ExportError, OSError) as e:
        print(f"slaprobe: status export: {e}", file=sys.stderr)
        return EXIT_INPUT
    print(f"wrote {len(content) - 1} files to {target.absolute()} (status as of {iso(now)})")
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
    _refuse_missing_folder(cfg)  # before the maintenance file is touched
    mid = args.mid or "maint-" + iso(start).replace(":", "").replace("-", "")[:13].lower()
    base, n = mid, 2
    while mid in existing:
        mid, n = f"{base}-{n}", n + 1
    spec = MaintenanceSpec(id=mid, start=start, end=end, announced=now, targets=targets,
                           reason=args.reason, source=str(path))
    # everything the window needs first: the history opens and can be written (else
    # StoreError, exit 2, and the maintenance file is left as it was)
    store = _store(cfg, read_only=False)
    try:
        store.check_writable()
    finally:
        store.close()
    announcements.append_window(path, spec)
    store, windows = _open(cfg)
    store.close()
    w = next((w for w in windows if w.id == mid), None)
    status = w.status if w else "?"
    print(for_terminal(f"added {mid}: {iso(start)} .. {iso(end)} to {path}; notice "
                       f"{format_duration(max(start - now, 0))}: {status}"))
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
