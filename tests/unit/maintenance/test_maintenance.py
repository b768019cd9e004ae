"""Maintenance verdicts: notice, retroactive windows, changed windows, overlap, targets."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import (
    EXCUSED,
    LATE_NOTICE,
    RETROACTIVE,
    Seen,
    Window,
    counts,
    excluded_intervals,
    resolve,
    version_key,
)
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec

H = 3600.0


def active(windows: list[Window], target: str, at: float) -> bool:
    """Whether `target` is inside an excluded window at `at` (as the tracker asks)."""
    return any(s <= at < e for s, e in excluded_intervals(windows, target))
NOTICE = 48 * H
S = 1_000 * H  # the nominal start of the window under test


def spec(start: float = S, end: float = S + 2 * H, announced: float = S - 100 * H,
         targets: tuple[str, ...] | None = None, wid: str = "db") -> MaintenanceSpec:
    return MaintenanceSpec(id=wid, start=start, end=end, announced=announced, targets=targets)


def seen(sp: MaintenanceSpec, first_seen: float) -> Seen:
    """The stored first sighting of this version of the window."""
    return Seen(id=sp.id, start=sp.start, end=sp.end, announced=sp.announced,
                targets=sp.targets, first_seen=first_seen)


def run(specs: Sequence[MaintenanceSpec], sightings: Sequence[Seen],
        allow_retroactive: bool = False) -> list[Window]:
    by_id: dict[str, list[Seen]] = {}
    for v in sightings:
        by_id.setdefault(v.id, []).append(v)
    return resolve(specs, by_id, notice=NOTICE, allow_retroactive=allow_retroactive)


def verdicts(windows: Sequence[Window]) -> list[tuple[float, float, str, bool]]:
    return [(w.start, w.end, w.status, w.excluded) for w in windows]


# --- one version --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notice_hours", "status", "excluded"),
    [(49, EXCUSED, True), (48, EXCUSED, True), (47.99, LATE_NOTICE, False),
     (47, LATE_NOTICE, False), (0, LATE_NOTICE, False), (-5, LATE_NOTICE, False)],
)
def test_notice_decides_excused_or_late(notice_hours: float, status: str, excluded: bool) -> None:
    """start - announced >= 48 h is excused (excluded); less is late_notice (counted)."""
    sp = spec(announced=S - notice_hours * H)
    (w,) = run([sp], [seen(sp, sp.announced)])
    assert (w.status, w.excluded) == (status, excluded)
    assert w.notice == notice_hours * H
    assert (w.start, w.end, w.first_seen) == (S, S + 2 * H, sp.announced)


@pytest.mark.parametrize(("allow", "excluded"), [(False, False), (True, True)])
def test_first_seen_after_start_is_retroactive(allow: bool, excluded: bool) -> None:
    """A window first seen after its start is retroactive: excluded only when allowed."""
    sp = spec(announced=S - 100 * H)
    (w,) = run([sp], [seen(sp, S + 1)], allow_retroactive=allow)
    assert (w.status, w.excluded) == (RETROACTIVE, excluded)


def test_first_seen_exactly_at_start_is_not_retroactive() -> None:
    """Seen at the very start (and announced in time) is still excused."""
    sp = spec()
    (w,) = run([sp], [seen(sp, S)])
    assert w.status == EXCUSED


def test_late_notice_wins_over_retroactive() -> None:
    """First match wins: a window both late and seen after its start is late_notice."""
    sp = spec(announced=S - 1 * H)
    (w,) = run([sp], [seen(sp, S + H)], allow_retroactive=True)
    assert (w.status, w.excluded) == (LATE_NOTICE, False)


def test_never_seen_window_is_an_error() -> None:
    """resolve refuses a window with no stored sighting."""
    with pytest.raises(ValueError, match="never recorded"):
        resolve([spec()], {}, notice=NOTICE, allow_retroactive=False)


def test_announced_edited_after_first_sight_does_not_change_the_verdict() -> None:
    """The stored announced time is used: editing it later neither excuses nor condemns."""
    stored = spec(announced=S - 10 * H)  # late when first seen
    edited = spec(announced=S - 100 * H)
    assert version_key(stored) == version_key(edited)  # same version: not re-recorded
    (w,) = run([edited], [seen(stored, S - 10 * H)])
    assert (w.status, w.announced) == (LATE_NOTICE, S - 10 * H)
    stored_ok = spec(announced=S - 100 * H)
    (w,) = run([spec(announced=S - 1 * H)], [seen(stored_ok, S - 100 * H)])
    assert (w.status, w.announced) == (EXCUSED, S - 100 * H)


# --- changed windows ----------------------------------------------------------------


def test_moved_window_late_new_part() -> None:
    """A window moved 30 h ahead: the overlap stays excused, the new part is late_notice."""
    v1 = spec(start=S, end=S + 2 * H, announced=S - 100 * H)
    v2 = spec(start=S + H, end=S + 3 * H, announced=S - 100 * H)  # announced left unchanged
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 30 * H)])
    assert verdicts(ws) == [
        (S + H, S + 2 * H, EXCUSED, True),
        (S + 2 * H, S + 3 * H, LATE_NOTICE, False),
    ]
    assert [(w.first_seen, w.announced) for w in ws] == [
        (S - 100 * H, S - 100 * H), (S - 30 * H, S - 30 * H),
    ]


def test_moved_window_with_enough_notice_stays_excused() -> None:
    """A window moved 60 h ahead of its new part's start is excused in full."""
    v1 = spec(start=S, end=S + 2 * H)
    v2 = spec(start=S + H, end=S + 3 * H)
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 60 * H)])
    assert verdicts(ws) == [
        (S + H, S + 2 * H, EXCUSED, True), (S + 2 * H, S + 3 * H, EXCUSED, True),
    ]
    assert excluded_intervals(ws, "app") == [(S + H, S + 3 * H)]


def test_new_part_announced_later_than_first_seen_keeps_the_declared_time() -> None:
    """A new part's announced time is max(declared, first seen)."""
    v1 = spec(start=S, end=S + 2 * H)
    v2 = spec(start=S, end=S + 4 * H, announced=S - 20 * H)  # declared after first sight
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 60 * H)])
    assert [(w.status, w.announced) for w in ws] == [
        (EXCUSED, S - 100 * H), (LATE_NOTICE, S - 20 * H),
    ]


def test_moved_window_earlier() -> None:
    """Moving a window earlier makes the earlier part a new announcement."""
    v1 = spec(start=S, end=S + 2 * H)
    v2 = spec(start=S - H, end=S + H)
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 10 * H)])
    assert verdicts(ws) == [
        (S - H, S, LATE_NOTICE, False), (S, S + H, EXCUSED, True),
    ]


def test_extended_window_extension_is_late() -> None:
    """Extending a running window: the extension is a new, late announcement."""
    v1 = spec(start=S, end=S + 2 * H)
    v2 = spec(start=S, end=S + 4 * H)
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S + H)], allow_retroactive=True)
    assert verdicts(ws) == [
        (S, S + 2 * H, EXCUSED, True), (S + 2 * H, S + 4 * H, LATE_NOTICE, False),
    ]
    assert excluded_intervals(ws, "app") == [(S, S + 2 * H)]


def test_shrunk_window_keeps_its_verdict() -> None:
    """Shrinking a window is no new announcement: the remaining part keeps its sighting."""
    v1 = spec(start=S, end=S + 4 * H)
    v2 = spec(start=S + H, end=S + 2 * H)
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - H)])
    assert verdicts(ws) == [(S + H, S + 2 * H, EXCUSED, True)]
    assert ws[0].first_seen == S - 100 * H


def test_each_part_keeps_the_earliest_version_covering_it() -> None:
    """With three versions, each part takes the earliest-seen version that covered it."""
    v1 = spec(start=S, end=S + 2 * H)
    v2 = spec(start=S, end=S + 3 * H)
    v3 = spec(start=S, end=S + 4 * H)
    ws = run([v3], [seen(v3, S - 10 * H), seen(v1, S - 100 * H), seen(v2, S - 50 * H)])
    assert [(w.start, w.end, w.first_seen, w.status) for w in ws] == [
        (S, S + 2 * H, S - 100 * H, EXCUSED),
        (S + 2 * H, S + 3 * H, S - 50 * H, EXCUSED),
        (S + 3 * H, S + 4 * H, S - 10 * H, LATE_NOTICE),
    ]


def test_widened_targets_are_a_new_announcement() -> None:
    """A window widened from one target to all is a new announcement as a whole."""
    v1 = spec(targets=("app",))
    v2 = spec(targets=None)
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 10 * H)])
    assert verdicts(ws) == [(S, S + 2 * H, LATE_NOTICE, False)]


def test_narrowed_targets_keep_the_verdict() -> None:
    """A window narrowed from all targets to one keeps its first sighting."""
    v1 = spec(targets=None)
    v2 = spec(targets=("app",))
    ws = run([v2], [seen(v1, S - 100 * H), seen(v2, S - 10 * H)])
    assert verdicts(ws) == [(S, S + 2 * H, EXCUSED, True)]
    assert ws[0].targets == ("app",)


# --- several windows, targets, counts ---------------------------------------------


def test_overlapping_windows_merge_into_one_excluded_interval() -> None:
    """Overlapping excused windows exclude their union once; late ones exclude nothing."""
    a = spec(wid="a", start=S, end=S + 2 * H)
    b = spec(wid="b", start=S + H, end=S + 3 * H)
    late = spec(wid="c", start=S + 2 * H, end=S + 6 * H, announced=S)
    ws = run([a, b, late], [seen(a, S - 100 * H), seen(b, S - 100 * H), seen(late, S)])
    assert [w.id for w in ws] == ["a", "b", "c"]
    assert excluded_intervals(ws, "app") == [(S, S + 3 * H)]
    t = Tracker({"app": True}, windows=ws)
    for i in range(8 * 60):
        t.add(Check("app", S - H + 60 * i, ok=False, interval=60))
    f = t.target_figures("app", S - H, S + 7 * H, now=S + 7 * H)
    assert (f.maintenance, f.down) == (3 * H, 5 * H)


def test_window_for_one_target() -> None:
    """A window for one target excludes only that target; the service follows the rule."""
    sp = spec(targets=("app",))
    ws = run([sp], [seen(sp, S - 100 * H)])
    assert excluded_intervals(ws, "app") == [(S, S + 2 * H)]
    assert excluded_intervals(ws, "api") == []
    assert active(ws, "app", S) and not active(ws, "api", S)

    def service(critical: dict[str, bool]) -> list[float]:
        t = Tracker(critical, windows=ws)
        for name in critical:
            t.add(Check(name, S - H, ok=True, interval=2 * H))
        return t.service_timeline(S, S + 2 * H, now=S + 2 * H).totals(S, S + 2 * H)

    # app critical, api critical and up: service excluded
    assert service({"app": True, "api": True})[State.MAINTENANCE] == 2 * H
    # app not critical: its maintenance does not touch the service (api up)
    assert service({"app": False, "api": True})[State.UP] == 2 * H


def test_window_for_every_target_excludes_the_service() -> None:
    """A window without targets covers every target, and so the service."""
    sp = spec()
    ws = run([sp], [seen(sp, S - 100 * H)])
    t = Tracker({"app": True, "api": True, "docs": False}, windows=ws)
    for name in ("app", "api", "docs"):
        assert t.maint_intervals(name) == [(S, S + 2 * H)]
    t.add(Check("app", S, ok=False, interval=60))
    assert t.service_state(S + 30) is State.MAINTENANCE
    timeline = t.service_timeline(S, S + 2 * H, now=S + 2 * H)
    assert timeline.totals(S, S + 2 * H)[State.MAINTENANCE] == 2 * H


def test_counts_by_status_count_windows() -> None:
    """counts gives the number of windows by status; a window's parts count once per status."""
    ok = spec(wid="ok")
    late = spec(wid="late", announced=S - H)
    retro = spec(wid="retro")
    v1 = spec(wid="moved", start=S, end=S + 2 * H)
    v2 = spec(wid="moved", start=S + H, end=S + 4 * H)
    v3 = spec(wid="grown", start=S, end=S + 2 * H)
    v4 = spec(wid="grown", start=S, end=S + 4 * H)
    ws = run([ok, late, retro, v2, v4], [
        seen(ok, S - 100 * H), seen(late, S - H), seen(retro, S + 1),
        seen(v1, S - 100 * H), seen(v2, S - 10 * H),
        seen(v3, S - 100 * H), seen(v4, S - 90 * H),
    ])
    assert len(ws) == 7
    assert counts(ws) == {EXCUSED: 3, LATE_NOTICE: 2, RETROACTIVE: 1}
    assert counts([]) == {EXCUSED: 0, LATE_NOTICE: 0, RETROACTIVE: 0}


def test_active_only_inside_excluded_windows() -> None:
    """active is true in [start, end) of an excluded window covering the target."""
    good = spec(wid="good", targets=("app",))
    late = spec(wid="late", start=S + 10 * H, end=S + 11 * H, announced=S)
    ws = run([good, late], [seen(good, S - 100 * H), seen(late, S)])
    assert not active(ws, "app", S - 1)
    assert active(ws, "app", S)
    assert active(ws, "app", S + 2 * H - 1)
    assert not active(ws, "app", S + 2 * H)
    assert not active(ws, "api", S + H)
    assert not active(ws, "app", S + 10.5 * H)  # late: not excluded
    retro = spec(wid="retro")
    for allow in (False, True):
        assert active(run([retro], [seen(retro, S + 1)], allow), "app", S + H) is allow
