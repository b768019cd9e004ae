"""Opening the history a config names: a SQLite file (one location), or a PostgreSQL
database shared by the daemons of several locations (`[daemon] database =
"postgresql://..."`, or `env:NAME` to keep the password out of the file).
`open_history` is the one place the backend is chosen.

A writer (the daemon) first takes its writer lock: the database file's on SQLite, its
location's on PostgreSQL (held by the store's own connection, and taken again whenever
that connection is opened again); the lock and the store are released together.

The PostgreSQL side (`pgstore`, `leaderlock`'s lock, psycopg itself) is imported only
when a config names a server: a daemon on SQLite never loads it (about 9 MB less
memory)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from slaprobe import config
from slaprobe.core.spec import Config
from slaprobe.history.leaderlock import Leadership, SoleLeader
from slaprobe.history.store import Store, refuse_missing_folder, unwritable_reason
from slaprobe.history.storeapi import HistoryStore, StoreError
from slaprobe.history.writerlock import WriterLock

if TYPE_CHECKING:
    from slaprobe.history.pgstore import PgStore


class Lock(Protocol):
    def release(self) -> None: ...


def listen_of(cfg: Config) -> str:
    return f"{cfg.daemon.listen_host}:{cfg.daemon.listen_port}"


def open_history(where: Config | str | Path, *, env: Mapping[str, str] | None = None,
                 read_only: bool = False, location: str | None = None) -> HistoryStore:
    """The store on a history: the one a config names (its location unless `location`
    is given; a relative SQLite path under $STATE_DIRECTORY from `env`), or the one at a
    PostgreSQL URL or SQLite path. StoreError if it cannot be opened."""
    if isinstance(where, Config):
        location = where.daemon.location if location is None else location
        where = (where.daemon.database if config.shared(where)
                 else config.database_path(where, env))
    loc = "default" if location is None else location
    if isinstance(where, str) and config.on_server(where):
        from slaprobe.history.pgstore import PgStore  # noqa: PLC0415 (a server only)
        return PgStore(where, read_only=read_only, location=loc)
    return Store(where, read_only=read_only, location=loc)


def open_writer(cfg: Config, env: Mapping[str, str] | None) -> tuple[HistoryStore, Lock | None]:
    """The writer lock, then the store, checked writable (else StoreError: exit 2).
    LockHeld / LocationLockHeld: another daemon writes this database / location.
    A PostgreSQL server that cannot be reached (refused, not answering) is no error:
    the store is returned not yet reached (`reached`), to be connected by `PgStore.reach`
    (the writer lock is taken then); a config mistake still is."""
    lock: Lock | None
    if config.shared(cfg):
        from slaprobe.history.pgstore import PgStore, unreachable_server  # noqa: PLC0415
        lock = None  # the store's connection holds it (closing the store releases it)
        try:
            store: HistoryStore = PgStore(cfg.daemon.database, location=cfg.daemon.location,
                                          listen=listen_of(cfg))
        except StoreError as e:
            if not unreachable_server(e):
                raise  # a config mistake (URL, login, database): no retry fixes it
            # the server is away: start anyway, the store connects later (`reach`)
            return PgStore(cfg.daemon.database, location=cfg.daemon.location,
                           listen=listen_of(cfg), unreached=str(e)), None
        try:
            store.check_writable()
        except BaseException:
            store.close()
            raise
        return store, None
    path = config.database_path(cfg, env)
    lock = None if str(path) == ":memory:" else _file_lock(cfg, path)
    try:
        store = open_history(cfg, env=env)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    try:
        store.check_writable()  # e.g. a read-only file: say so now, not at the first write
    except BaseException:
        close(store, lock)
        raise
    return store, lock


def reached(store: HistoryStore) -> bool:
    """Whether the store's database has been reached (SQLite: always)."""
    return not on_server(store) or cast("PgStore", store).reached


def on_server(store: HistoryStore) -> bool:
    """Whether the store is a PostgreSQL server's (not loading psycopg to tell)."""
    pgstore = sys.modules.get("slaprobe.history.pgstore")
    return pgstore is not None and isinstance(store, pgstore.PgStore)


def leadership(cfg: Config) -> Leadership:
    """Who freezes a closed month's statement: on a shared history the daemon holding
    the leader lock; on SQLite the one daemon."""
    if not config.shared(cfg):
        return SoleLeader()
    from slaprobe.history.leaderlock import PgLeaderLock  # noqa: PLC0415 (a server only)
    return PgLeaderLock(cfg.daemon.database)


def reader(cfg: Config, env: Mapping[str, str] | None) -> Callable[[], HistoryStore]:
    """Opens another read-only store on the same history (the verifier's own)."""
    return lambda: open_history(cfg, env=env, read_only=True)


def spool_path(cfg: Config, env: Mapping[str, str] | None) -> Path | None:
    """Where checks wait on local disk while a shared history's server is away: beside
    where a SQLite file would be ($STATE_DIRECTORY when set). None for SQLite (its
    file is local already)."""
    if not config.shared(cfg):
        return None
    env_dir = (env or {}).get("STATE_DIRECTORY")
    name = f"slaprobe-{cfg.daemon.location}.spool"
    return Path(env_dir.split(":")[0]) / name if env_dir else Path(name).absolute()


def close(store: HistoryStore, lock: Lock | None) -> None:
    store.close()
    if lock is not None:
        lock.release()


def _file_lock(cfg: Config, path: Path) -> WriterLock:
    refuse_missing_folder(path)  # before the lock file: nothing is created
    try:
        return WriterLock(path, listen=listen_of(cfg))
    except OSError as e:  # e.g. a read-only file system: the daemon cannot write
        raise StoreError(f"cannot write database {path}: cannot create its lock file:"
                         f" {e.strerror or e}{unwritable_reason(path)}") from e
