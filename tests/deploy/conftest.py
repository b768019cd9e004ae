"""Deploy tests that build on each other run in the order they are written.

pytest-randomly shuffles tests within a module; a module marked `in_order` (one
container: start, probe, reload, watchdog, ... stop) keeps its written order,
whatever the seed. Modules stay shuffled among themselves.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    marked = [i for i in items if i.get_closest_marker("in_order") is not None]
    if not marked:
        return
    written = iter(sorted(marked, key=lambda i: (str(i.path), i.location[1])))
    items[:] = [next(written) if i.get_closest_marker("in_order") is not None else i
                for i in items]
