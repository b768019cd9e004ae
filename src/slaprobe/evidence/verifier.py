"""The history verifier: the hash chain checked off the event loop, on its own connection.

All of the chain at start-up and every VERIFY_FULL_EVERY, else its tail (the records
since the last one found intact) every VERIFY_EVERY; a read transaction, so the
writer is never blocked. The verdict is the `slaprobe_history_verified` gauge. The
head of an intact chain is logged as a `chain_head` event (seq, digest) every
HEAD_EVERY: a witness in the journal that deleting the database cannot reach
(`slaprobe verify --head`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slaprobe.clock import Clock
from slaprobe.history.storeapi import HistoryStore, StoreError, Verdict, VerifyStopped
from slaprobe.history.stores import open_history
from slaprobe.metrics.instruments import Instruments

VERIFY_EVERY = 60.0
VERIFY_FULL_EVERY = 86400.0
HEAD_EVERY = 300.0  # the chain's head is logged (`chain_head`) at least this often


def _verify_tail(open_reader: Callable[[], HistoryStore], since: int,
                 stop: threading.Event | None = None) -> tuple[Verdict, int]:
    """Verify records from `since` on (the open block is re-read each time); the seq to
    start from next time. VerifyStopped once `stop` is set."""
    reader = open_reader()
    try:
        verdict = reader.verify(since_seq=since, stop=stop)
        return verdict, reader.chain_top()
    finally:
        reader.close()


class HistoryVerifier:
    def __init__(self, clock: Clock, path: Path | Callable[[], HistoryStore],
                 instruments: Instruments, log: Any) -> None:
        self.clock = clock
        # a SQLite file, or what opens a read-only store of its own on the history
        self.open_reader: Callable[[], HistoryStore] = (
            (lambda: open_history(path, read_only=True)) if isinstance(path, Path) else path)
        self.instruments = instruments
        self.log = log
        # set at shutdown: a verification under way gives up within milliseconds (the
        # thread it runs in is one a stop waits for; a whole walk can take minutes)
        self.stop = threading.Event()

    async def run(self) -> None:
        since, last_full = 0, self.clock.monotonic()
        last_head = -HEAD_EVERY
        while True:
            try:
                verdict, top = await asyncio.to_thread(_verify_tail, self.open_reader, since,
                                                       self.stop)
            except VerifyStopped:
                return  # the daemon is stopping: no verdict either way
            except (OSError, StoreError) as e:
                self.log.error("history_verify_failed", error=str(e))
            else:
                if verdict.ok:
                    self.instruments.history_verified.set(1)
                    self.instruments.history_verified_time.set(self.clock.now())
                    since = top
                    if self.clock.monotonic() - last_head >= HEAD_EVERY - VERIFY_EVERY / 2:
                        last_head = self.clock.monotonic()
                        self.log.info("chain_head", seq=verdict.head_seq, digest=verdict.head)
                else:
                    self.instruments.history_verified.set(0)
                    self.log.error("history_tampered", problem=verdict.problem)
                    since = 0  # keep looking at all of it until it is intact again
            if self.clock.monotonic() - last_full >= VERIFY_FULL_EVERY:
                since, last_full = 0, self.clock.monotonic()
            await self.clock.sleep(VERIFY_EVERY)
