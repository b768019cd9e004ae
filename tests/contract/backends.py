"""Stores of one history on a backend, and raw SQL on it from outside slaprobe."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import psycopg

from slaprobe.history.pgstore import PgStore
from slaprobe.history.store import Store
from slaprobe.history.storeapi import HistoryStore


@dataclass
class Backend:
    """Stores on one history, and raw SQL on it from outside slaprobe (`%s` marks)."""

    kind: str
    database: str
    opened: list[HistoryStore] = field(default_factory=list)

    def open(self, *, location: str = "default", read_only: bool = False) -> HistoryStore:
        s: HistoryStore
        if self.kind == "sqlite":
            s = Store(self.database, read_only=read_only, location=location)
        else:
            s = PgStore(self.database, read_only=read_only, location=location)
        self.opened.append(s)
        return s

    def raw(self, sql: str, *args: Any) -> int:
        """Run one statement as a hand edit would; its row count."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.database)) as c:
                n = c.execute(sql.replace("%s", "?"), args).rowcount
                c.commit()
                return n
        with psycopg.connect(self.database, autocommit=True) as c:
            return c.execute(sql.encode(), args).rowcount

    def close(self) -> None:
        for s in self.opened:
            s.close()
