"""The daemon's use of Python's cyclic garbage collector.

Start-up reads what lives as long as the daemon: modules, the config, every target's
timeline from the history (hundreds of thousands of objects at 10,000 targets). Left
in the collector's sight, each full collection walks all of it again: a pause of tens
of milliseconds at 1,000 targets (45 ms measured), the loop late for every check in
flight. `settle` collects once and then freezes what is left (`gc.freeze`), so later
collections walk only what was made since. Objects freed by reference counting are
freed as before; only cyclic garbage among the frozen ones would stay (there is none
right after a collection). `young` lets more objects be made between young
collections than Python's default of 700: a check makes a few hundred short-lived
objects, and most of them are gone by the next collection instead of being promoted.

Only `slaprobe run` calls these (not tests that start daemons in their own process).
"""

from __future__ import annotations

import gc

YOUNG = 5000  # allocations between young collections (Python's default: 700)


def young() -> None:
    """Collect the youngest generation every YOUNG allocations, the rest as before."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)


def settle() -> None:
    """Collect everything, then keep what is left out of later collections."""
    gc.collect()
    gc.freeze()
