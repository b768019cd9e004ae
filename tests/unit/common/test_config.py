"""Config decoding: the valid file, one invalid file per rule, defaults, env and paths."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from slaprobe import config
from slaprobe.config import ConfigError
from slaprobe.core.spec import MaintenanceSpec, ProbeSpec, per_target_windows

DATA = Path(__file__).parents[2] / "data" / "config"
SHIPPED = Path(__file__).parents[3] / "probe.toml"
TOKEN = "s3cret-token-value"
ENV = {"SLAPROBE_TEST_TOKEN": TOKEN}


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def problems_of(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.parse(raw, env=ENV if env is None else env)
    return info.value.problems


def minimal(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"targets": [{"name": "app", "url": "https://app.example.com/"}]}
    raw.update(extra)
    return raw


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    """tests/data/config/valid.toml, loaded once."""
    return config.load(DATA / "valid.toml", env=ENV)


class TestValidConfig:
    """tests/data/config/valid.toml sets every key."""

    def test_daemon(self, cfg: config.Config) -> None:
        """Every [daemon] key is decoded."""
        assert cfg.daemon == config.DaemonSpec(
            listen_host="0.0.0.0", listen_port=9470, database="history/slaprobe.db",
            service="CloneNer EU", retention=90 * 86400.0, max_concurrency=7,
            target_latency_histogram=True, target_windows=("1d", "month"),
        )

    def test_slo(self, cfg: config.Config) -> None:
        """Every [slo] key is decoded."""
        assert cfg.slo == config.SloSpec(
            objective=0.995,
            windows=(("30m", 1800.0), ("1d", 86400.0), ("28d", 28 * 86400.0)),
            maintenance_notice=72 * 3600.0,
            allow_retroactive_maintenance=True,
            maintenance_file="maint/maintenance.toml",
            maintenance_feeds=(
                "https://status.example.com/api/v2/scheduled-maintenances.json", "feeds/cal.ics",
            ),
            maintenance_feed_interval=600.0,
        )

    def test_target_keys(self, cfg: config.Config) -> None:
        """Every target key is decoded, the header secret read from the environment."""
        app = cfg.target("app")
        assert app is not None
        assert app.url == "https://app.example.com/health"
        assert app.critical is True
        assert (app.interval, app.timeout, app.retries, app.retry_interval) == (15.0, 2.0, 0, 1.0)
        assert app.expect_status == ("2xx",)
        assert app.method == "POST"
        assert app.headers == (("Authorization", TOKEN), ("X-Probe", "yes"))
        assert app.body_contains == "healthy"
        assert app.body_regex is not None
        assert app.body_regex.pattern == '"status":\\s*"ok"'
        assert app.max_latency == 1.5
        assert (app.verify_tls, app.follow_redirects, app.max_body_bytes) == (True, True, 65536)

    def test_defaults_inherited(self, cfg: config.Config) -> None:
        """A target that sets nothing takes every [defaults] key."""
        docs = cfg.target("docs_site-2")
        assert docs is not None
        assert docs.url == "http://docs.example.com:8080/"
        assert docs.critical is False
        assert (docs.interval, docs.timeout, docs.retries, docs.retry_interval) == (
            60.0, 5.0, 3, 0.5)
        assert docs.expect_status == ("200", "3xx")
        assert docs.method == "HEAD"
        assert docs.headers == (("User-Agent", "slaprobe-test"),)
        assert docs.body_contains == "ok"
        assert docs.body_regex is not None and docs.body_regex.pattern == "^ok"
        assert docs.max_latency == 3.0
        assert (docs.verify_tls, docs.follow_redirects, docs.max_body_bytes) == (
            False, False, 4096)

    def test_controls(self, cfg: config.Config) -> None:
        """Controls take defaults, may omit a name, and are never critical-configurable."""
        named, unnamed = cfg.controls
        assert named.name == "example-org" and named.interval == 45.0
        assert unnamed.name == "control-1" and unnamed.url == "https://www.example.net/"
        assert unnamed.interval == 60.0

    def test_maintenance(self, cfg: config.Config) -> None:
        """[[maintenance]] tables become specs in Unix seconds, any offset."""
        assert cfg.maintenance == (
            MaintenanceSpec(
                id="db-upgrade-2026-12", start=ts("2026-12-06T02:00:00+00:00"),
                end=ts("2026-12-06T04:00:00+00:00"), announced=ts("2026-11-30T09:00:00+00:00"),
                targets=("app",), reason="Database upgrade",
            ),
            MaintenanceSpec(
                id="network-2027-01", start=ts("2027-01-10T02:00:00+00:00"),
                end=ts("2027-01-10T04:00:00+00:00"), announced=ts("2027-01-01T00:00:00+00:00"),
            ),
        )

    def test_support(self, cfg: config.Config) -> None:
        """[support] becomes the business calendar and the incident clocks."""
        sup = cfg.support
        cal = sup.calendar
        assert sup.configured
        assert (cal.timezone, cal.opens, cal.closes) == ("America/New_York", 30600, 63000)
        assert cal.days == frozenset({0, 1, 2, 3})
        assert (cal.holidays, cal.subdivision) == ("US", "NY")
        assert cal.extra_holidays == frozenset({dt.date(2026, 12, 24), dt.date(2026, 12, 31)})
        assert sup.merge_gap == 600.0
        # "d" is one support day (9 h here); unset clocks keep the SLA's defaults
        assert (sup.high.response, sup.high.resolution) == (2 * 3600, 9 * 3600)
        assert (sup.medium.response, sup.medium.resolution) == (8 * 3600, 27 * 3600)

    def test_support_absent_is_the_slas_defaults(self) -> None:
        cfg = config.parse({"targets": [{"name": "app", "url": "https://a.example/"}]})
        sup = cfg.support
        assert not sup.configured
        assert (sup.calendar.timezone, sup.calendar.opens, sup.calendar.closes) == (
            "UTC", 9 * 3600, 17 * 3600)
        assert sup.calendar.days == frozenset(range(5)) and sup.calendar.holidays is None
        assert sup.merge_gap == 900.0
        assert (sup.high.response, sup.high.resolution) == (4 * 3600, 8 * 3600)
        assert (sup.medium.response, sup.medium.resolution) == (8 * 3600, 16 * 3600)

    def test_path_recorded(self, cfg: config.Config) -> None:
        """The config remembers the file it came from."""
        assert cfg.path == str(DATA / "valid.toml")


# file -> every problem expected in it: (key path prefix, words the message contains)
BAD_CONFIGS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "invalid_unknown_top_key.toml": [("daemonn:", ("unknown key",))],
    "invalid_unknown_target_key.toml": [("targets[1].intervall:", ("unknown key",))],
    "invalid_support_timezone.toml": [("support.timezone:", ("unknown timezone", "Londn"))],
    "invalid_support_hours.toml": [("support.hours:", ("17:00-09:00", "open before"))],
    "invalid_support_holidays.toml": [("support.holidays_subdivision:", ("XYZ",))],
    "invalid_support_clock.toml": [("support.high.resolution:", ("1 day", "business"))],
    "invalid_support_unknown_key.toml": [("support.medium.respons:", ("unknown key",))],
    "invalid_support_extra_holidays.toml": [("support.extra_holidays[1]:", ("TOML date",))],
    "invalid_bad_duration.toml": [("targets[1].interval:", ("invalid duration", "30 seconds"))],
    "invalid_zero_duration.toml": [("defaults.timeout:", ("greater than zero",))],
    "invalid_negative_duration.toml": [("daemon.retention:", ("invalid duration", "-1d"))],
    "invalid_url_scheme.toml": [("targets[0].url:", ("http://", "https://", "ftp://"))],
    "invalid_missing_url.toml": [("targets[1].url:", ("missing",))],
    "invalid_missing_name.toml": [("targets[0].name:", ("missing",))],
    "invalid_duplicate_name.toml": [("targets[1].name:", ("duplicate", "'app'", "targets[0]"))],
    "invalid_name_chars.toml": [("targets[0].name:", ("'App Server'", "[a-z0-9_-]"))],
    "invalid_expect_status.toml": [("defaults.expect_status[1]:", ("HTTP status", "999"))],
    "invalid_regex.toml": [("targets[0].body_regex:", ("invalid regular expression",))],
    "invalid_env_unset.toml": [
        ("targets[0].headers.Authorization:", ("SLAPROBE_TEST_UNSET", "not set")),
    ],
    "invalid_objective.toml": [("slo.objective:", ("between 0 and 1", "99.9"))],
    "invalid_listen.toml": [("daemon.listen:", ("HOST:PORT", "'localhost'"))],
    "invalid_maintenance_end_before_start.toml": [("maintenance[0].end:", ("after start",))],
    "invalid_maintenance_unknown_target.toml": [
        ("maintenance[0].targets[1]:", ("no target named 'ap'",)),
    ],
    "invalid_maintenance_missing_announced.toml": [("maintenance[0].announced:", ("missing",))],
    "invalid_naive_datetime.toml": [("maintenance[0].start:", ("offset",))],
    "invalid_wrong_type.toml": [("defaults.retries:", ("must be an integer", "a string"))],
    "invalid_empty_target.toml": [
        ("targets[1].name:", ("missing",)), ("targets[1].url:", ("missing",)),
    ],
    "invalid_no_targets.toml": [("targets:", ("at least one",))],
}


class TestLoadBadConfigs:
    """Each tests/data/config/invalid_<rule>.toml breaks exactly one rule."""

    @pytest.mark.parametrize(("name", "expected"), sorted(BAD_CONFIGS.items()))
    def test_bad_config(self, name: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
        """The file is refused with exactly the expected problems, each with its key path."""
        with pytest.raises(ConfigError) as info:
            config.load(DATA / name, env=ENV)
        problems = info.value.problems
        assert len(problems) == len(expected), problems
        for prefix, words in expected:
            assert any(
                p.startswith(prefix) and all(w in p for w in words) for p in problems
            ), (prefix, words, problems)

    def test_every_invalid_file_is_in_the_table(self) -> None:
        """No invalid_*.toml file is left untested."""
        assert {p.name for p in DATA.glob("invalid_*.toml")} == set(BAD_CONFIGS)

    def test_message_joins_problems(self) -> None:
        """str(ConfigError) lists every problem, one a line."""
        with pytest.raises(ConfigError) as info:
            config.load(DATA / "invalid_empty_target.toml", env=ENV)
        assert str(info.value).splitlines() == info.value.problems


class TestProblems:
    """Problems found by parse() directly."""

    def test_all_problems_reported(self) -> None:
        """Several problems in one config are all reported, not just the first."""
        problems = problems_of({
            "daemon": {"listen": "nowhere", "max_concurrency": 0},
            "slo": {"objective": 1},
            "defaults": {"interval": "5"},
            "targets": [
                {"name": "app", "url": "gopher://x"},
                {"name": "Bad!", "url": "https://x.example/", "retries": -1},
            ],
            "maintenance": [{"id": "m", "start": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}],
        })
        prefixes = [
            "daemon.listen:", "daemon.max_concurrency:", "slo.objective:", "defaults.interval:",
            "targets[0].url:", "targets[1].name:", "targets[1].retries:",
            "maintenance[0].end:", "maintenance[0].announced:",
        ]
        for prefix in prefixes:
            assert any(p.startswith(prefix) for p in problems), (prefix, problems)
        assert len(problems) == len(prefixes)

    def test_missing_targets(self) -> None:
        """A config without [[targets]] is refused."""
        assert problems_of({}) == [
            "targets: missing: at least one [[targets]] table is needed",
        ]

    def test_target_not_a_table(self) -> None:
        """targets = "app" is not an array of tables."""
        problems = problems_of({"targets": "app"})
        assert problems == ["targets: must be an array of tables ([[targets]]), not a string"]

    def test_empty_maintenance_table(self) -> None:
        """An empty [[maintenance]] table is reported, not skipped."""
        problems = problems_of(minimal(maintenance=[{}]))
        assert sorted(problems) == [
            "maintenance[0].announced: missing", "maintenance[0].end: missing",
            "maintenance[0].id: missing", "maintenance[0].start: missing",
        ]

    @pytest.mark.parametrize("status", ["²⁰⁰", "٢٠٠", "2xx\n", "600", "abc", True])
    def test_odd_expect_status(self, status: object) -> None:
        """Odd statuses (non-ASCII digits, trailing newline, bool) are problems, not crashes."""
        problems = problems_of(minimal(defaults={"expect_status": [status]}))
        assert len(problems) == 1 and problems[0].startswith("defaults.expect_status[0]:")

    @pytest.mark.parametrize("listen", ["h:²", ":9469", "h:65536", "h:-1", "h:", "[::1]"])
    def test_odd_listen(self, listen: str) -> None:
        """Odd listen addresses are problems, not crashes."""
        assert problems_of(minimal(daemon={"listen": listen})) == [
            f"daemon.listen: must be HOST:PORT, not {listen!r}",
        ]

    def test_listen_ipv6(self) -> None:
        """A bracketed IPv6 address is accepted without its brackets."""
        cfg = config.parse(minimal(daemon={"listen": "[::1]:9469"}), env={})
        assert (cfg.daemon.listen_host, cfg.daemon.listen_port) == ("::1", 9469)

    def test_name_with_trailing_newline(self) -> None:
        """A name ending in a newline does not sneak past [a-z0-9_-]+."""
        raw = {"targets": [{"name": "app\n", "url": "https://app.example.com/"}]}
        problems = problems_of(raw)
        assert len(problems) == 1 and problems[0].startswith("targets[0].name:")

    def test_control_critical_is_unknown(self) -> None:
        """critical means nothing for a control, so it is an unknown key there."""
        problems = problems_of(minimal(controls=[{"url": "https://x.example/", "critical": True}]))
        assert problems == ["controls[0].critical: unknown key"]

    def test_defaults_name_is_unknown(self) -> None:
        """name and url cannot be defaulted."""
        problems = problems_of(minimal(defaults={"name": "x", "url": "https://x.example/"}))
        assert sorted(problems) == ["defaults.name: unknown key", "defaults.url: unknown key"]

    def test_boolean_is_not_an_integer(self) -> None:
        """retries = true is a type error, not 1."""
        assert problems_of(minimal(defaults={"retries": True})) == [
            "defaults.retries: must be an integer, not a boolean",
        ]

    def test_env_empty_name(self) -> None:
        """A bare "env:" names no variable."""
        raw = {"targets": [
            {"name": "app", "url": "https://app.example.com/", "headers": {"X": "env:"}},
        ]}
        assert problems_of(raw) == ["targets[0].headers.X: env: needs a variable name"]

    def test_maintenance_duplicate_id(self) -> None:
        """Two windows with one id are refused."""
        window = {
            "id": "m", "start": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
            "end": dt.datetime(2026, 1, 3, tzinfo=dt.UTC),
            "announced": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        }
        problems = problems_of(minimal(maintenance=[window, dict(window)]))
        assert problems == ["maintenance[1].id: duplicate id 'm' (also maintenance[0])"]


class TestDefaults:
    """[defaults], built-in defaults and per-target overrides."""

    def test_defaults_inherited_and_overridden(self) -> None:
        """Targets inherit [defaults] and override them key by key."""
        cfg = config.parse({
            "defaults": {"interval": "1m", "retries": 5, "expect_status": ["2xx"]},
            "targets": [
                {"name": "a", "url": "https://a.example/"},
                {"name": "b", "url": "https://b.example/", "interval": "10s", "retries": 0},
            ],
        }, env={})
        a, b = cfg.targets
        assert (a.interval, a.retries, a.expect_status) == (60.0, 5, ("2xx",))
        assert (b.interval, b.retries, b.expect_status) == (10.0, 0, ("2xx",))

    def test_critical_defaults_true(self) -> None:
        """A target counts against the SLA unless marked otherwise."""
        cfg = config.parse(minimal(), env={})
        assert cfg.targets[0].critical is True

    def test_critical_false_in_defaults(self) -> None:
        """critical = false in [defaults] applies to targets that do not set it."""
        cfg = config.parse({
            "defaults": {"critical": False},
            "targets": [
                {"name": "a", "url": "https://a.example/"},
                {"name": "b", "url": "https://b.example/", "critical": True},
            ],
        }, env={})
        assert [t.critical for t in cfg.targets] == [False, True]

    def test_builtin_defaults(self) -> None:
        """Without [daemon], [slo] or [defaults] the documented defaults apply."""
        cfg = config.parse(minimal(), env={})
        assert cfg.daemon == config.DaemonSpec()
        assert (cfg.daemon.listen_host, cfg.daemon.listen_port) == ("127.0.0.1", 9469)
        assert cfg.slo.objective == 0.999
        assert cfg.slo.maintenance_notice == 48 * 3600
        assert [w for w, _ in cfg.slo.windows] == ["1h", "1d", "7d", "30d"]
        t = cfg.targets[0]
        assert (t.interval, t.timeout, t.retries, t.retry_interval) == (30.0, 10.0, 2, 2.0)
        assert t.expect_status == ("200",)


class TestSecrets:
    """env:NAME values are read from the environment and never shown."""

    def test_env_header_read(self) -> None:
        """env:NAME in a header is replaced by the variable's value."""
        raw = {"targets": [{
            "name": "app", "url": "https://app.example.com/",
            "headers": {"Authorization": "env:SLAPROBE_TEST_TOKEN"},
        }]}
        cfg = config.parse(raw, env=ENV)
        assert cfg.targets[0].headers == (("Authorization", TOKEN),)

    def test_secret_not_in_repr(self) -> None:
        """Header values appear in neither repr(ProbeSpec) nor repr(Config)."""
        cfg = config.load(DATA / "valid.toml", env=ENV)
        assert TOKEN not in repr(cfg.targets[0])
        assert TOKEN not in repr(cfg)
        assert TOKEN not in str(cfg)

    def test_env_unset_message_hides_nothing_secret(self) -> None:
        """The unset-variable problem names the variable only."""
        raw = {"targets": [{
            "name": "app", "url": "https://app.example.com/",
            "headers": {"Authorization": "env:NOPE"},
        }]}
        assert problems_of(raw, env={}) == [
            "targets[0].headers.Authorization: environment variable NOPE is not set",
        ]

    def test_env_url(self) -> None:
        """A url may come from the environment too."""
        raw = {"targets": [{"name": "app", "url": "env:APP_URL"}]}
        cfg = config.parse(raw, env={"APP_URL": "https://app.example.com/"})
        assert cfg.targets[0].url == "https://app.example.com/"

    def test_probe_spec_repr_direct(self) -> None:
        """ProbeSpec built by hand keeps headers out of its repr."""
        spec = ProbeSpec(name="t", url="http://127.0.0.1/", headers=(("X-Key", "hunter2"),))
        assert "hunter2" not in repr(spec)


class TestPaths:
    """Relative paths resolve where DESIGN says."""

    def test_database_under_state_directory(self, tmp_path: Path) -> None:
        """A relative database path resolves under $STATE_DIRECTORY when set."""
        cfg = config.parse(minimal(daemon={"database": "sub/probe.db"}), env={})
        env = {"STATE_DIRECTORY": f"{tmp_path}/state:{tmp_path}/other"}
        assert config.database_path(cfg, env) == tmp_path / "state" / "sub" / "probe.db"

    def test_database_relative_without_state_directory(self) -> None:
        """Without $STATE_DIRECTORY a relative path stays relative (working directory)."""
        cfg = config.parse(minimal(), env={})
        assert config.database_path(cfg, {}) == Path("slaprobe.db")

    def test_database_absolute_ignores_state_directory(self, tmp_path: Path) -> None:
        """An absolute database path is used as is."""
        cfg = config.parse(minimal(daemon={"database": str(tmp_path / "x.db")}), env={})
        env = {"STATE_DIRECTORY": "/var/lib/slaprobe"}
        assert config.database_path(cfg, env) == tmp_path / "x.db"

    def test_maintenance_file_beside_config(self, tmp_path: Path) -> None:
        """A relative maintenance_file resolves beside the config file."""
        path = tmp_path / "etc" / "probe.toml"
        path.parent.mkdir()
        path.write_text(
            '[slo]\nmaintenance_file = "maintenance.toml"\n'
            '[[targets]]\nname = "app"\nurl = "https://app.example.com/"\n',
        )
        cfg = config.load(path, env={})
        assert config.maintenance_file_path(cfg) == tmp_path / "etc" / "maintenance.toml"

    def test_no_maintenance_file(self) -> None:
        """Without maintenance_file there is no maintenance file path."""
        assert config.maintenance_file_path(config.parse(minimal(), env={})) is None


class TestLoad:
    """Reading files."""

    def test_shipped_probe_toml(self) -> None:
        """The shipped probe.toml loads without problems and an empty environment."""
        cfg = config.load(SHIPPED, env={})
        assert [t.name for t in cfg.targets] == ["app", "api", "docs"]
        assert [t.critical for t in cfg.targets] == [True, True, False]
        assert cfg.slo.objective == 0.999
        assert config.maintenance_file_path(cfg) == SHIPPED.parent / "maintenance.toml"

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigError naming it."""
        with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "nope.toml"))):
            config.load(tmp_path / "nope.toml", env={})

    def test_invalid_toml(self, tmp_path: Path) -> None:
        """Broken TOML is a ConfigError, not a traceback."""
        path = tmp_path / "bad.toml"
        path.write_text("[daemon\n")
        with pytest.raises(ConfigError, match="invalid TOML"):
            config.load(path, env={})

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are a ConfigError."""
        path = tmp_path / "bad.toml"
        path.write_bytes(b"\xff\xfe")
        with pytest.raises(ConfigError, match="not UTF-8"):
            config.load(path, env={})

    def test_default_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """$SLAPROBE_CONFIG, else ./probe.toml, else /etc/slaprobe/probe.toml."""
        monkeypatch.chdir(tmp_path)
        assert config.default_path({"SLAPROBE_CONFIG": "/x/p.toml"}) == Path("/x/p.toml")
        assert config.default_path({}) == Path("/etc/slaprobe/probe.toml")
        (tmp_path / "probe.toml").write_text("")
        assert config.default_path({}) == Path("probe.toml")


def test_web_config_resolves_beside_the_config_file(tmp_path: Path) -> None:
    cfg = config.parse(minimal(daemon={"web_config": "web.yml"}), env=ENV)
    assert cfg.daemon.web_config == "web.yml"
    at = config.Config(daemon=cfg.daemon, path=str(tmp_path / "probe.toml"))
    assert config.web_config_path(at) == tmp_path / "web.yml"
    assert config.web_config_path(config.parse(minimal(), env=ENV)) is None
    assert problems_of(minimal(daemon={"web_config": " "})) == [
        "daemon.web_config: must not be empty (omit it for plain HTTP)"]
    assert problems_of(minimal(daemon={"web_config": 1}))[0].startswith("daemon.web_config:")


class TestEveryAllowedKeyIsDecoded:
    """The allowed keys derive from the decoders: each one, given a value of the wrong
    type, is reported at its own key path (a listed key that nothing decodes would pass
    silently)."""

    WRONG = object()  # no decoder accepts an arbitrary object

    def problems(self, raw: dict[str, object]) -> list[str]:
        with pytest.raises(ConfigError) as e:
            config.parse(raw, env={})
        return e.value.problems

    @pytest.mark.parametrize("key", sorted(config._PROBE_FIELDS))
    def test_probe_keys(self, key: str) -> None:
        target = {"name": "app", "url": "http://127.0.0.1/", key: self.WRONG}
        assert any(p.startswith(f"targets[0].{key}") for p in self.problems(
            {"targets": [target]})), key
        assert any(p.startswith(f"defaults.{key}") for p in self.problems(
            {"defaults": {key: self.WRONG}, "targets": [{"name": "a", "url": "http://h/"}]}))

    @pytest.mark.parametrize(("section", "key"), [
        *(("daemon", k) for k in sorted(config._DAEMON_FIELDS)),
        *(("slo", k) for k in sorted(config._SLO_FIELDS)),
    ])
    def test_table_keys(self, section: str, key: str) -> None:
        raw = {section: {key: self.WRONG}, "targets": [{"name": "a", "url": "http://h/"}]}
        assert any(p.startswith(f"{section}.{key}") for p in self.problems(raw)), key

    @pytest.mark.parametrize("key", sorted(config._MAINT_FIELDS))
    def test_maintenance_keys(self, key: str) -> None:
        window = {"id": "w", "start": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                  "end": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                  "announced": dt.datetime(2025, 12, 1, tzinfo=dt.UTC), key: self.WRONG}
        raw = {"maintenance": [window], "targets": [{"name": "a", "url": "http://h/"}]}
        assert any(p.startswith(f"maintenance[0].{key}") for p in self.problems(raw)), key

    def test_unknown_keys_are_refused_in_every_table(self) -> None:
        raw = {"daemon": {"x": 1}, "slo": {"x": 1}, "defaults": {"x": 1},
               "targets": [{"name": "a", "url": "http://h/", "x": 1}],
               "controls": [{"url": "http://h/", "critical": True}], "x": 1}
        assert sorted(p for p in self.problems(raw) if "unknown key" in p) == [
            "controls[0].critical: unknown key", "daemon.x: unknown key",
            "defaults.x: unknown key", "slo.x: unknown key", "targets[0].x: unknown key",
            "x: unknown key",
        ]


class TestPerTargetMetrics:
    """[daemon] target_latency_histogram and target_windows."""

    def test_defaults_keep_every_design_series(self) -> None:
        c = config.parse(minimal(), env=ENV)
        assert c.daemon.target_latency_histogram is False  # buckets off; +Inf, sum, count kept
        assert per_target_windows(c.daemon, c.slo.windows) == {"1h", "1d", "7d", "30d", "month"}

    def test_defaults_follow_the_slo_windows(self) -> None:
        c = config.parse(minimal(slo={"windows": ["1h", "7d"]}), env=ENV)
        assert per_target_windows(c.daemon, c.slo.windows) == {"1h", "7d", "month"}

    def test_fewer_windows_when_listed(self) -> None:
        c = config.parse(minimal(daemon={"target_windows": ["1h", "30d", "month"]}), env=ENV)
        assert per_target_windows(c.daemon, c.slo.windows) == {"1h", "30d", "month"}
        assert per_target_windows(
            config.parse(minimal(daemon={"target_windows": []}), env=ENV).daemon,
            c.slo.windows) == frozenset()

    def test_unknown_window_is_named(self) -> None:
        assert problems_of(minimal(daemon={"target_windows": ["1h", "2h"]})) == [
            "daemon.target_windows[1]: '2h' is not a window (one of 1h, 1d, 7d, 30d, month)"]

    def test_histogram_switch_must_be_a_boolean(self) -> None:
        (problem,) = problems_of(minimal(daemon={"target_latency_histogram": "yes"}))
        assert problem.startswith("daemon.target_latency_histogram: must be true or false")


class TestVantagePoints:
    """[daemon] location, a postgresql:// database (from the environment), [slo] quorum."""

    def test_defaults(self) -> None:
        cfg = config.parse(minimal())
        assert (cfg.daemon.location, cfg.slo.quorum) == ("default", 1)
        assert not config.shared(cfg)

    def test_a_shared_history_from_the_environment(self) -> None:
        url = "postgresql://probe:s3cret@db.internal:5432/sla"
        cfg = config.parse(minimal(daemon={"database": "env:SLAPROBE_DB", "location": "eu-1"},
                                   slo={"quorum": 2}), env={"SLAPROBE_DB": url})
        assert cfg.daemon.database == url
        assert (cfg.daemon.location, cfg.slo.quorum) == ("eu-1", 2)
        assert config.shared(cfg)

    @pytest.mark.parametrize(("raw", "env", "problem"), [
        ({"daemon": {"location": "EU 1"}}, {}, "daemon.location: 'EU 1' must match [a-z0-9_-]+"),
        ({"daemon": {"location": 3}}, {}, "daemon.location: must be a string"),
        ({"slo": {"quorum": 0}}, {}, "slo.quorum: must be at least 1"),
        ({"slo": {"quorum": 1.5}}, {}, "slo.quorum: must be an integer"),
        ({"daemon": {"database": "env:NOPE"}}, {}, "daemon.database: environment variable NOPE"),
        ({"daemon": {"database": "env:DB"}}, {"DB": "mysql://u:pw@h/db"},
         "daemon.database: 'mysql://u:***@h/db': only postgresql:// URLs"),
    ])
    def test_bad_values_name_their_key(self, raw: dict[str, Any], env: dict[str, str],
                                       problem: str) -> None:
        found = problems_of(minimal(**raw), env)
        assert any(p.startswith(problem) for p in found), found
        assert not any("pw@" in p for p in found)


def test_evidence_signing_key_is_a_path_beside_the_config(tmp_path: Path) -> None:
    cfg = config.parse(minimal(evidence={"signing_key": "keys/statement.pem"}), env={},
                       path=str(tmp_path / "probe.toml"))
    assert config.signing_key_path(cfg) == tmp_path / "keys" / "statement.pem"
    assert config.signing_key_path(config.parse(minimal(), env={})) is None
    assert problems_of(minimal(evidence={"signing_key": 3})) == [
        "evidence.signing_key: must be a string, not an integer"]
    assert problems_of(minimal(evidence={"signing_key": " "}))[0].startswith(
        "evidence.signing_key: must not be empty")
    assert problems_of(minimal(evidence={"key": "x"}))[0].startswith("evidence.key")
