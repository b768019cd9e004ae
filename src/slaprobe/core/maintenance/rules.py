"""Pure maintenance rules: which announced windows are excused, and where.

Status, first match wins: `late_notice` (start - announced < notice; never
excluded), `retroactive` (slaprobe first saw it after its start; excluded only
when allowed, for backfills), else `excused`. A window that changed after it was
first seen is a new announcement for the changed part: each part keeps the
first-seen time of the earliest version of the window that covered it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from slaprobe.core.evidence.terms import TermsHistory
from slaprobe.core.intervals import Interval, merge
from slaprobe.core.spec import MaintenanceSpec

EXCUSED = "excused"
LATE_NOTICE = "late_notice"
RETROACTIVE = "retroactive"
STATUSES = (EXCUSED, LATE_NOTICE, RETROACTIVE)


@dataclass(frozen=True, slots=True)
class Seen:
    """One version of a window as slaprobe first saw it (stored in the database)."""

    id: str
    start: float
    end: float
    announced: float
    targets: tuple[str, ...] | None
    first_seen: float


@dataclass(frozen=True, slots=True)
class Window:
    """A window (or the changed part of one) with its verdict."""

    id: str
    start: float
    end: float
    announced: float
    first_seen: float
    targets: tuple[str, ...] | None
    reason: str
    source: str
    status: str
    excluded: bool

    @property
    def notice(self) -> float:
        return self.start - self.announced

    def excluded_within(self, a: float, b: float) -> float:
        """Seconds of [a, b) this window excludes (none unless it is excluded)."""
        return max(min(self.end, b) - max(self.start, a), 0.0) if self.excluded else 0.0

    def covers(self, target: str) -> bool:
        return self.targets is None or target in self.targets


def version_key(spec: MaintenanceSpec) -> str:
    """Identity of one version: a moved, resized or retargeted window is a new one."""
    targets = None if spec.targets is None else sorted(spec.targets)
    return json.dumps([spec.id, spec.start, spec.end, targets])


def with_unseen(stored: dict[str, list[Seen]], specs: Iterable[MaintenanceSpec],
                now: float) -> dict[str, list[Seen]]:
    """`stored` plus, for each spec whose version is not among its id's stored ones, that
    version first seen `now` (what a reader, which records nothing, judges by)."""
    for spec in specs:
        versions = stored.setdefault(spec.id, [])
        key = version_key(spec)
        if not any(version_key(_spec_of(v)) == key for v in versions):
            versions.append(Seen(id=spec.id, start=spec.start, end=spec.end,
                                 announced=spec.announced, targets=spec.targets,
                                 first_seen=now))
    return stored


def _spec_of(v: Seen) -> MaintenanceSpec:
    return MaintenanceSpec(id=v.id, start=v.start, end=v.end, announced=v.announced,
                           targets=v.targets, reason="", source="")


def _covers_targets(old: tuple[str, ...] | None, new: tuple[str, ...] | None) -> bool:
    if old is None:
        return True
    return new is not None and set(new) <= set(old)


def resolve(
    specs: Iterable[MaintenanceSpec],
    seen: Mapping[str, Sequence[Seen]],
    *,
    notice: float,
    allow_retroactive: bool,
    terms: TermsHistory | None = None,
) -> list[Window]:
    """Verdicts for the current windows given every stored version (by id).

    Each current spec must already have its own version among `seen[spec.id]`. With
    `terms`, each version is judged by the notice and retroactive rule in force when
    it was first seen (a later config edit cannot change a verdict); without, by
    `notice` and `allow_retroactive`.
    """
    out: list[Window] = []
    for spec in specs:
        versions = sorted(seen.get(spec.id, ()), key=lambda v: v.first_seen)
        if not versions:
            raise ValueError(f"maintenance {spec.id!r} was never recorded as seen")
        original = versions[0]
        for start, end, version in _parts(spec, versions):
            announced = version.announced
            if version is not original:
                announced = max(announced, version.first_seen)
            need, allow = notice, allow_retroactive
            if terms is not None:
                then = terms.at(version.first_seen)
                need, allow = then.maintenance_notice, then.allow_retroactive_maintenance
            if start - announced < need:
                status = LATE_NOTICE
            elif version.first_seen > start:
                status = RETROACTIVE
            else:
                status = EXCUSED
            excluded = status == EXCUSED or (status == RETROACTIVE and allow)
            out.append(Window(
                id=spec.id, start=start, end=end, announced=announced,
                first_seen=version.first_seen, targets=spec.targets, reason=spec.reason,
                source=spec.source, status=status, excluded=excluded,
            ))
    out.sort(key=lambda w: (w.start, w.id))
    return out


def _parts(spec: MaintenanceSpec, versions: Sequence[Seen]) -> list[tuple[float, float, Seen]]:
    """Split the spec's range by the earliest-seen compatible version covering each part."""
    cuts = {spec.start, spec.end}
    usable = [v for v in versions if _covers_targets(v.targets, spec.targets)]
    for v in usable:
        cuts.update(t for t in (v.start, v.end) if spec.start < t < spec.end)
    points = sorted(cuts)
    parts: list[tuple[float, float, Seen]] = []
    for a, b in itertools.pairwise(points):
        owner = next((v for v in usable if v.start <= a and b <= v.end), None)
        if owner is None:  # cannot happen once the current version is stored
            continue
        if parts and parts[-1][2] is owner and parts[-1][1] == a:
            parts[-1] = (parts[-1][0], b, owner)
        else:
            parts.append((a, b, owner))
    return parts


def excluded_intervals(windows: Iterable[Window], target: str) -> list[Interval]:
    """Merged intervals in which `target` is excluded for maintenance."""
    return merge((w.start, w.end) for w in windows if w.excluded and w.covers(target))


def counts(windows: Iterable[Window]) -> dict[str, int]:
    """Number of windows by status (a changed window's parts count once per status)."""
    out = dict.fromkeys(STATUSES, 0)
    for _, status in {(w.id, w.status) for w in windows}:
        out[status] += 1
    return out
