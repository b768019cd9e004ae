"""The maintenance file on disk and judging windows against the store's first-seen record."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from slaprobe import config
from slaprobe.core.maintenance.rules import EXCUSED, LATE_NOTICE, RETROACTIVE
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.history.store import Store
from slaprobe.maintenance.announcements import (
    MaintenanceFileError,
    append_window,
    file_mtime,
    gather,
    read_file,
    record_and_resolve,
    static_specs,
)

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
HOUR = 3600.0
DAY = 86400.0
NAMES = {"app", "api"}


def spec(path: Path | None = None, **kw: object) -> MaintenanceSpec:
    fields: dict[str, object] = {
        "id": "db-upgrade", "start": T0 + 5 * DAY, "end": T0 + 5 * DAY + 2 * HOUR,
        "announced": T0, "targets": ("app",), "reason": "Database upgrade",
        "source": "config" if path is None else str(path),
    }
    fields.update(kw)
    return MaintenanceSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "slaprobe.db")
    yield s
    s.close()


def make_config(tmp_path: Path, *, extra: str = "") -> config.Config:
    path = tmp_path / "probe.toml"
    path.write_text(
        '[slo]\nmaintenance_file = "maintenance.toml"\n' + extra
        + '[[targets]]\nname = "app"\nurl = "https://app.example.com/"\n'
        + '[[targets]]\nname = "api"\nurl = "https://api.example.com/"\n',
    )
    return config.load(path, env={})


class TestReadFile:
    """read_file: the [[maintenance]] tables of the maintenance file."""

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing maintenance file has no windows (it is optional)."""
        assert read_file(tmp_path / "maintenance.toml", NAMES) == ()

    def test_empty_file(self, tmp_path: Path) -> None:
        """An empty file has no windows."""
        path = tmp_path / "maintenance.toml"
        path.write_text("# nothing yet\n")
        assert read_file(path, NAMES) == ()

    def test_reads_windows(self, tmp_path: Path) -> None:
        """Windows are decoded like probe.toml's, their source the file."""
        path = tmp_path / "maintenance.toml"
        path.write_text(
            "[[maintenance]]\n"
            'id = "db-upgrade"\n'
            "start = 2026-10-06T00:00:00Z\n"
            "end = 2026-10-06T02:00:00Z\n"
            "announced = 2026-10-01T00:00:00Z\n"
            'targets = ["app"]\n'
            'reason = "Database upgrade"\n',
        )
        assert read_file(path, NAMES) == (spec(path),)

    def test_invalid_key_path(self, tmp_path: Path) -> None:
        """An invalid window raises MaintenanceFileError naming the file and the key path."""
        path = tmp_path / "maintenance.toml"
        path.write_text(
            "[[maintenance]]\n"
            'id = "ok"\nstart = 2026-10-06T00:00:00Z\nend = 2026-10-06T02:00:00Z\n'
            "announced = 2026-10-01T00:00:00Z\n"
            "[[maintenance]]\n"
            'id = "bad"\nstart = 2026-10-06T00:00:00Z\nend = 2026-10-05T02:00:00Z\n'
            'announced = 2026-10-01T00:00:00Z\ntargets = ["web"]\n',
        )
        with pytest.raises(MaintenanceFileError) as info:
            read_file(path, NAMES)
        lines = str(info.value).splitlines()
        assert lines == [
            f"{path}: maintenance[1].end: must be after start",
            f"{path}: maintenance[1].targets[0]: no target named 'web'",
        ]

    def test_unknown_top_key(self, tmp_path: Path) -> None:
        """Anything but [[maintenance]] in the file is an unknown key."""
        path = tmp_path / "maintenance.toml"
        path.write_text("[daemon]\nlisten = '127.0.0.1:1'\n")
        with pytest.raises(MaintenanceFileError, match="daemon: unknown key"):
            read_file(path, NAMES)

    def test_invalid_toml(self, tmp_path: Path) -> None:
        """Broken TOML raises MaintenanceFileError naming the file."""
        path = tmp_path / "maintenance.toml"
        path.write_text("[[maintenance]\n")
        with pytest.raises(MaintenanceFileError, match="invalid TOML") as info:
            read_file(path, NAMES)
        assert str(path) in str(info.value)

    def test_unreadable(self, tmp_path: Path) -> None:
        """A path that cannot be read (a directory) raises MaintenanceFileError."""
        with pytest.raises(MaintenanceFileError, match="cannot read"):
            read_file(tmp_path, NAMES)


class TestAppendWindow:
    """append_window: what `slaprobe maintenance add` writes."""

    def test_round_trip_new_file(self, tmp_path: Path) -> None:
        """A window appended to a new file reads back equal to the spec."""
        path = tmp_path / "sub" / "maintenance.toml"
        append_window(path, spec(path))
        assert read_file(path, NAMES) == (spec(path),)

    def test_append_keeps_existing(self, tmp_path: Path) -> None:
        """Appending keeps earlier windows and comments."""
        path = tmp_path / "maintenance.toml"
        path.write_text("# hand-written note\n")
        first = spec(path)
        second = spec(path, id="all-targets", targets=None, reason="",
                      start=T0 + 10 * DAY + 0.5, end=T0 + 11 * DAY, announced=T0 + 0.25)
        append_window(path, first)
        append_window(path, second)
        assert read_file(path, NAMES) == (first, second)
        assert path.read_text().startswith("# hand-written note\n")

    def test_awkward_strings(self, tmp_path: Path) -> None:
        """Quotes, backslashes, newlines and control characters survive the round trip."""
        path = tmp_path / "maintenance.toml"
        odd = spec(path, id='a"b\\c', reason='say "hi"\\\nline two\r\tand \x07\x7f and ☃ 😀')
        append_window(path, odd)
        assert read_file(path, NAMES) == (odd,)

    def test_keeps_file_mode(self, tmp_path: Path) -> None:
        """Rewriting the file keeps its permissions (the daemon, another user, must read it)."""
        path = tmp_path / "maintenance.toml"
        path.write_text("")
        path.chmod(0o640)
        append_window(path, spec(path))
        assert stat.S_IMODE(path.stat().st_mode) == 0o640

    def test_new_file_readable(self, tmp_path: Path) -> None:
        """A new maintenance file is world-readable, not mkstemp's 0600."""
        path = tmp_path / "maintenance.toml"
        append_window(path, spec(path))
        assert stat.S_IMODE(path.stat().st_mode) == 0o644

    def test_no_temp_files_left(self, tmp_path: Path) -> None:
        """The atomic rewrite leaves no temporary file behind."""
        path = tmp_path / "maintenance.toml"
        append_window(path, spec(path))
        append_window(path, spec(path, id="second"))
        assert [p.name for p in tmp_path.iterdir()] == ["maintenance.toml"]

    def test_file_mtime(self, tmp_path: Path) -> None:
        """file_mtime is None for no path or a missing file, else the modification time."""
        path = tmp_path / "maintenance.toml"
        assert file_mtime(None) is None
        assert file_mtime(path) is None
        append_window(path, spec(path))
        assert file_mtime(path) == path.stat().st_mtime


class TestSources:
    """Combining probe.toml and the maintenance file."""

    def test_gather_first_id_wins(self) -> None:
        """A repeated id keeps the first source's window."""
        a, b = spec(reason="from config"), spec(reason="from file")
        other = spec(id="other")
        assert gather([a], [b, other]) == [a, other]

    def test_static_specs(self, tmp_path: Path) -> None:
        """static_specs reads probe.toml's windows and the maintenance file beside it."""
        cfg = make_config(tmp_path, extra=(
            '[[maintenance]]\nid = "from-config"\nstart = 2026-10-06T00:00:00Z\n'
            "end = 2026-10-06T02:00:00Z\nannounced = 2026-10-01T00:00:00Z\n"
        ))
        path = tmp_path / "maintenance.toml"
        assert [s.id for s in static_specs(cfg)] == ["from-config"]
        append_window(path, spec(path))
        assert [s.id for s in static_specs(cfg)] == ["from-config", "db-upgrade"]

    def test_static_specs_bad_file(self, tmp_path: Path) -> None:
        """A maintenance file naming an unknown target raises MaintenanceFileError."""
        cfg = make_config(tmp_path)
        append_window(tmp_path / "maintenance.toml", spec(targets=("web",)))
        with pytest.raises(MaintenanceFileError, match=r"targets\[0\]: no target named 'web'"):
            static_specs(cfg)


class TestJudge:
    """judge: first sight recorded, then each window's verdict."""

    def test_excused(self, store: Store, tmp_path: Path) -> None:
        """Announced 5 days ahead and seen before it starts: excused and excluded."""
        cfg = make_config(tmp_path)
        [w] = record_and_resolve(store, cfg, [spec()], now=T0 + HOUR)
        assert (w.status, w.excluded, w.first_seen) == (EXCUSED, True, T0 + HOUR)
        assert w.notice == 5 * DAY

    def test_late_notice(self, store: Store, tmp_path: Path) -> None:
        """Announced less than maintenance_notice (48h) ahead: late_notice, never excluded."""
        cfg = make_config(tmp_path)
        late = spec(announced=T0 + 5 * DAY - 47 * HOUR)
        [w] = record_and_resolve(store, cfg, [late], now=T0)
        assert (w.status, w.excluded) == (LATE_NOTICE, False)

    def test_exactly_notice_is_excused(self, store: Store, tmp_path: Path) -> None:
        """start - announced == maintenance_notice is enough."""
        cfg = make_config(tmp_path)
        [w] = record_and_resolve(store, cfg, [spec(announced=T0 + 3 * DAY)], now=T0)
        assert w.status == EXCUSED

    def test_retroactive(self, store: Store, tmp_path: Path) -> None:
        """First seen after its start: retroactive, not excluded by default."""
        cfg = make_config(tmp_path)
        [w] = record_and_resolve(store, cfg, [spec()], now=T0 + 6 * DAY)
        assert (w.status, w.excluded, w.first_seen) == (RETROACTIVE, False, T0 + 6 * DAY)

    def test_retroactive_allowed(self, store: Store, tmp_path: Path) -> None:
        """allow_retroactive_maintenance = true excludes retroactive windows (backfills)."""
        cfg = make_config(tmp_path, extra="allow_retroactive_maintenance = true\n")
        [w] = record_and_resolve(store, cfg, [spec()], now=T0 + 6 * DAY)
        assert (w.status, w.excluded) == (RETROACTIVE, True)

    def test_late_notice_wins_over_retroactive(self, store: Store, tmp_path: Path) -> None:
        """Status is first-match: a late, retroactive window is late_notice."""
        cfg = make_config(tmp_path, extra="allow_retroactive_maintenance = true\n")
        [w] = record_and_resolve(store, cfg, [spec(announced=T0 + 5 * DAY)], now=T0 + 6 * DAY)
        assert (w.status, w.excluded) == (LATE_NOTICE, False)

    def test_first_seen_recorded_once(self, store: Store, tmp_path: Path) -> None:
        """Judging again later keeps the first sighting: an excused window stays excused."""
        cfg = make_config(tmp_path)
        record_and_resolve(store, cfg, [spec()], now=T0 + HOUR)
        [w] = record_and_resolve(store, cfg, [spec()], now=T0 + 6 * DAY)
        assert (w.status, w.first_seen) == (EXCUSED, T0 + HOUR)

    def test_extended_after_start(self, store: Store, tmp_path: Path) -> None:
        """Extending a window after the fact does not excuse the extension."""
        cfg = make_config(tmp_path)
        record_and_resolve(store, cfg, [spec()], now=T0 + HOUR)
        longer = spec(end=T0 + 5 * DAY + 5 * HOUR)
        windows = record_and_resolve(store, cfg, [longer], now=T0 + 5 * DAY + 3 * HOUR)
        assert [(w.start, w.end, w.status) for w in windows] == [
            (T0 + 5 * DAY, T0 + 5 * DAY + 2 * HOUR, EXCUSED),
            (T0 + 5 * DAY + 2 * HOUR, T0 + 5 * DAY + 5 * HOUR, LATE_NOTICE),
        ]

    def test_custom_notice(self, store: Store, tmp_path: Path) -> None:
        """maintenance_notice from [slo] sets the bar."""
        cfg = make_config(tmp_path, extra='maintenance_notice = "7d"\n')
        [w] = record_and_resolve(store, cfg, [spec()], now=T0)
        assert w.status == LATE_NOTICE
