"""PURE: each target's latest check, with how many targets' latest check is in each state.

The daemon tells systemd, once a second, how many targets are up, down, unknown...
(`ops.rooms.states`); counting them from the checks visited every target. A
`LatestChecks` is the dict of latest checks that keeps those counts as checks are
set and targets removed, so the answer costs the number of states.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from slaprobe.core.model import Check, State


class LatestChecks(dict[str, Check]):
    """Target -> its latest check; `counts`: targets by their latest check's state
    (None: unknown). Every way of changing the dict keeps the counts."""

    def __init__(self, items: Mapping[str, Check] | Iterable[tuple[str, Check]] = ()) -> None:
        super().__init__()
        self.counts: Counter[State | None] = Counter()
        self.update(items)

    def __setitem__(self, key: str, check: Check) -> None:
        old = self.get(key)
        if old is not None:
            self._drop(old)
        super().__setitem__(key, check)
        self.counts[check.state] += 1

    def __delitem__(self, key: str) -> None:
        self._drop(self[key])
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._drop(self[key])
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Check]:
        key, check = super().popitem()
        self._drop(check)
        return key, check

    def clear(self) -> None:
        super().clear()
        self.counts.clear()

    def update(self, items: Any = (), /, **more: Check) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, check in [*pairs, *more.items()]:
            self[key] = check

    def setdefault(self, key: str, default: Check) -> Check:
        if key not in self:
            self[key] = default
        return self[key]

    def _drop(self, check: Check) -> None:
        self.counts[check.state] -= 1
        if not self.counts[check.state]:
            del self.counts[check.state]
