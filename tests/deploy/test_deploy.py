"""The files under deploy/ checked by the real tools, plus their cross-references.

promtool (rules syntax, rule unit tests, scrape config), amtool (Alertmanager
config and routing), systemd-analyze (unit verification and exposure score);
then the Grafana dashboard, the alert annotations and the runbook are checked
against the metric contract and each other. A test that needs a program is
skipped, with the package to install, only when that program is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from slaprobe.core.reporting import catalogue

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "slaprobe.rules.yml"
RULE_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yml"))
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"
UNIT = DEPLOY / "systemd" / "slaprobe.service"
DASHBOARD = DEPLOY / "grafana" / "slaprobe.json"
RUNBOOK = REPO / "docs" / "operations.md"  # the runbook: one section per alert
DESIGN = REPO / "docs" / "DESIGN.md"  # the product contract

# Metric names the dashboard and rules may use: every metric the daemon serves, from the
# one catalogue the code builds its families from (DESIGN.md's contract table is a subset,
# checked below).
CONTRACT_METRICS = catalogue.served_names()
HISTOGRAMS = tuple(m.name for m in catalogue.ALL if m.kind == "histogram")
PROMETHEUS_BUILTINS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
PROMQL_WORDS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "offset",
        "bool",
        "rate",
        "increase",
        "irate",
        "histogram_quantile",
        "time",
        "absent",
        "last_over_time",
        "max_over_time",
        "avg_over_time",
        "round",
        "le",
        "vector",
    }
)


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"`{program}` not installed (apt-get install {package})")
    return path


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, **kw)


# --- parsing the shipped files without a YAML library -------------------------------


def alert_blocks() -> dict[str, str]:
    """Alert name -> its text in the rules file (one key per line, as shipped)."""
    text = RULES.read_text()
    parts = re.split(r"^(?=\s*- (?:alert|record): )", text, flags=re.M)
    out: dict[str, str] = {}
    for part in parts:
        if m := re.match(r"\s*- alert: (\S+)", part):
            assert m.group(1) not in out, f"duplicate alert {m.group(1)}"
            out[m.group(1)] = part
    return out


def recorded_names() -> set[str]:
    return set(re.findall(r"^\s*- record: (\S+)", RULES.read_text(), flags=re.M))


def metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names an expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"(?<![\w:.])\d+(?:\.\d+)?(?:ms|[smhdwy])?(?![\w:])", "", expr)  # numbers
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS and n not in {"Inf", "NaN"}}


def base_metric(name: str) -> str:
    for h in HISTOGRAMS:
        if name in (f"{h}_bucket", f"{h}_sum", f"{h}_count"):
            return h
    return name


def github_anchor(heading: str) -> str:
    anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return anchor.replace(" ", "-")


# --- promtool ------------------------------------------------------------------------


@pytest.mark.slow
def test_promtool_check_rules() -> None:
    promtool = need("promtool", "prometheus")
    r = run([promtool, "check", "rules", str(RULES)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@pytest.mark.slow
def test_promtool_rule_unit_tests() -> None:
    promtool = need("promtool", "prometheus")
    assert RULE_TESTS, "no promtool tests under deploy/prometheus/tests"
    # One promtool per file, concurrently: the multi-day tests take seconds each.
    procs = {
        f: subprocess.Popen(
            [promtool, "test", "rules", f.name],
            cwd=f.parent,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for f in RULE_TESTS
    }
    failures = []
    for f, p in procs.items():
        out, _ = p.communicate(timeout=120)
        if p.returncode != 0:
            failures.append(f"{f.name}:\n{out}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_promtool_check_config() -> None:
    promtool = need("promtool", "prometheus")
    r = run([promtool, "check", "config", PROMETHEUS_YML.name], cwd=PROMETHEUS_YML.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 rule files found" in r.stdout, "prometheus.yml must load slaprobe.rules.yml"


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tests = "\n".join(f.read_text() for f in RULE_TESTS)
    for name in alert_blocks():
        fires = re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels:", tests)
        silent = re.search(rf"alertname: {name}, exp_alerts: \[\]", tests) or re.search(
            rf"alertname: {name}\n\s+exp_alerts: \[\]", tests
        )
        assert fires, f"no promtool test expects {name} to fire"
        assert silent, f"no promtool test expects {name} to stay silent"


# --- rules: annotations, severities, runbook, metric names ---------------------------


def test_alerts_have_severity_summary_description_and_runbook() -> None:
    runbook = RUNBOOK.read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^## (.+)$", runbook, flags=re.M)}
    alerts = alert_blocks()
    assert len(alerts) >= 10
    for name, block in alerts.items():
        sev = re.search(r"^\s+severity: (\S+)\s*$", block, flags=re.M)
        assert sev and sev.group(1) in {"page", "ticket"}, f"{name}: severity page|ticket"
        assert re.search(r"^\s+summary: \S", block, flags=re.M), f"{name}: no summary"
        assert re.search(r"^\s+description: \S", block, flags=re.M), f"{name}: no description"
        url = re.search(r"^\s+runbook_url: (\S+)\s*$", block, flags=re.M)
        assert url, f"{name}: no runbook_url"
        assert url.group(1).split("#")[0].endswith("docs/operations.md"), url.group(1)
        anchor = url.group(1).split("#", 1)[1]
        assert anchor == github_anchor(name), f"{name}: anchor {anchor!r}"
        assert anchor in anchors, f"{name}: docs/operations.md has no section #{anchor}"


def test_issue_alert_set_is_complete() -> None:
    alerts = alert_blocks()
    burn = {  # name: (long, short, factor, severity) from the SRE workbook
        "SlaprobeErrorBudgetBurn1h": ("1h", "5m", "14.4", "page"),
        "SlaprobeErrorBudgetBurn6h": ("6h", "30m", "6", "page"),
        "SlaprobeErrorBudgetBurn1d": ("1d", "2h", "3", "ticket"),
        "SlaprobeErrorBudgetBurn3d": ("3d", "6h", "1", "ticket"),
    }
    for name, (long, short, factor, sev) in burn.items():
        block = alerts[name]
        assert f"slaprobe:service_burn_rate:rate{long} > {factor}\n" in block, name
        assert f"slaprobe:service_burn_rate:rate{short} > {factor}\n" in block, name
        assert f"severity: {sev}" in block, name
    text = RULES.read_text()
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"rate(slaprobe_service_down_seconds_total[{window}])" in text
        assert f"rate(slaprobe_service_up_seconds_total[{window}])" in text
    for name in (
        "SlaprobeErrorBudgetExhausted",
        "SlaprobeCriticalTargetDown",
        "SlaprobeDown",
        "SlaprobeAbsent",
        "SlaprobeNotProbing",
        "SlaprobeLowCoverage",
        "SlaprobeMaintenanceLateNotice",
        "SlaprobeIncidentResolutionAtRisk",
        "SlaprobeIncidentResponseDue",
        "SlaprobeIncidentBreached",
    ):
        assert name in alerts, name
    # the incident alerts read slaprobe's business-time figure, never wall time
    for name, clock in (("SlaprobeIncidentResolutionAtRisk", "resolution"),
                        ("SlaprobeIncidentResponseDue", "response")):
        assert (f'slaprobe_incident_business_seconds_left{{clock="{clock}"}} < 3600 >= 0'
                in alerts[name]), name


def test_per_target_alerts_split_by_criticality() -> None:
    """Critical targets page, non-critical ones get the ticket: by expression, not by guess."""
    alerts = alert_blocks()
    ctd, td = alerts["SlaprobeCriticalTargetDown"], alerts["SlaprobeTargetDown"]
    assert ("and on (job, target) (max without (instance, location) (slaprobe_target_critical)"
            " == 1)") in ctd
    assert "slaprobe_service_up" not in ctd, "criticality is exported, not inferred"
    assert ("unless on (job, target) (max without (instance, location) (slaprobe_target_critical)"
            " == 1)") in td
    for block in (ctd, td):
        assert ("unless on (job, target) (max without (instance, location)"
                " (slaprobe_maintenance_active) == 1)") in block
    # Disjoint by expression, so no inhibition between the two is needed.
    inhibit = ALERTMANAGER_YML.read_text().split("inhibit_rules:", 1)[1]
    targets = re.findall(r"target_matchers:\n((?:\s+- .*\n)+)", inhibit)
    assert targets
    assert not any("SlaprobeTargetDown" in m for m in targets)


def test_rules_use_only_contract_metrics() -> None:
    exprs = re.findall(
        r"^\s+expr: \|\n((?:\s{10}.*\n)+)|^\s+expr: (.+)$", RULES.read_text(), flags=re.M
    )
    assert exprs
    recorded = recorded_names()
    for multi, single in exprs:
        for name in metric_names(multi or single):
            assert (
                base_metric(name) in CONTRACT_METRICS
                or name in recorded
                or name in PROMETHEUS_BUILTINS
            ), f"rules use unknown metric {name!r}"


def test_contract_list_matches_design() -> None:
    if not DESIGN.exists():
        pytest.skip("docs/DESIGN.md is not in this checkout")
    table = DESIGN.read_text().split("## Prometheus metrics", 1)[1]
    design = set(re.findall(r"`(slaprobe_[a-z_]+)`", table))
    assert design, "no metric names found in DESIGN.md"
    assert design <= CONTRACT_METRICS, design - CONTRACT_METRICS


# --- Alertmanager --------------------------------------------------------------------


@pytest.mark.slow
def test_amtool_check_config() -> None:
    amtool = need("amtool", "prometheus-alertmanager")
    r = run([amtool, "check-config", str(ALERTMANAGER_YML)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
    assert "inhibit rules" in r.stdout


@pytest.mark.slow
def test_alertmanager_routes_pages_and_tickets() -> None:
    amtool = need("amtool", "prometheus-alertmanager")

    def receiver(*labels: str) -> str:
        r = run([amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels])
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    assert receiver("severity=page") == "slaprobe-page"
    assert receiver("severity=ticket") == "slaprobe-ticket"
    for name, block in alert_blocks().items():
        sev = re.search(r"severity: (\S+)", block)
        assert sev
        labels = [f"alertname={name}", f"severity={sev.group(1)}", "job=slaprobe"]
        assert receiver(*labels) == f"slaprobe-{sev.group(1)}", name


def test_alertmanager_inhibits_per_target_alerts_during_service_page() -> None:
    text = ALERTMANAGER_YML.read_text()
    inhibit = text.split("inhibit_rules:", 1)[1].split("\nreceivers:", 1)[0]
    first = inhibit.split("\n  - ", 2)[1]
    assert "SlaprobeErrorBudgetBurn1h" in first and 'severity="page"' in first
    assert 'alertname="SlaprobeCriticalTargetDown"' in first
    assert "equal: ['job']" in first  # the alerts are one per history, not per daemon
    # The e2e test swaps the receivers section, which therefore comes last.
    assert text.rstrip().split("\nreceivers:", 1)[1]
    assert not re.search(r"^\w", text.split("\nreceivers:", 1)[1], flags=re.M)


# --- systemd -------------------------------------------------------------------------


def unit_copy(tmp_path: Path) -> Path:
    """The unit with its binaries pointed at ones that exist on this machine."""
    true = shutil.which("true") or "/bin/true"
    text = UNIT.read_text().replace("/usr/local/bin/slaprobe", true)
    copy = tmp_path / "slaprobe.service"
    copy.write_text(text)
    return copy


def analyze_or_skip(tmp_path: Path) -> str:
    analyze = need("systemd-analyze", "systemd")
    probe = tmp_path / "probe" / "canary.service"
    probe.parent.mkdir()
    probe.write_text("[Service]\nExecStart=/bin/true\n")
    r = run([analyze, "verify", str(probe)])
    if r.returncode != 0:
        pytest.skip(f"systemd-analyze cannot verify units here: {(r.stdout + r.stderr)[:300]}")
    return analyze


def test_unit_directives() -> None:
    text = UNIT.read_text()
    for directive in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "Restart=on-failure",
        "TimeoutStopSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "StateDirectory=slaprobe",
        "ConfigurationDirectory=slaprobe",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
        "Environment=SLAPROBE_CONFIG=",
        "ExecStart=/usr/local/bin/slaprobe run --config ",
    ):
        assert directive in text, directive


@pytest.mark.slow
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = analyze_or_skip(tmp_path)
    unit = unit_copy(tmp_path)
    r = run([analyze, "verify", str(unit)])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # verify only warns about unknown keys or bad values: any line about our
    # unit is a problem.
    problems = [line for line in out.splitlines() if "slaprobe.service" in line]
    assert not problems, out


@pytest.mark.slow
def test_systemd_exposure_score(tmp_path: Path) -> None:
    analyze = analyze_or_skip(tmp_path)
    unit = unit_copy(tmp_path)
    r = run([analyze, "security", "--offline=yes", str(unit)])
    if r.returncode != 0 and "offline" in (r.stdout + r.stderr).lower():
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    m = re.search(r"Overall exposure level for slaprobe\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    # 1.1 is what a network daemon can reach: the rest is AF_INET/AF_INET6,
    # the host network, no IP allow list (targets are arbitrary) and AF_UNIX
    # for sd_notify. Recorded in docs/operations.md.
    assert float(m.group(1)) <= 1.1, r.stdout


# --- Grafana -------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out.extend(all_panels(p.get("panels", [])))
    return out


def test_dashboard_panels_have_datasource_and_contract_queries() -> None:
    d = dashboard()
    recorded = recorded_names()
    panels = [p for p in all_panels(d["panels"]) if p["type"] != "row"]
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        assert p.get("datasource") == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p.get("targets"), f"{p['title']}: no queries"
        for t in p["targets"]:
            assert t.get("expr"), f"{p['title']}: empty query"
            assert t.get("datasource", p["datasource"]) == p["datasource"]
            names = metric_names(t["expr"])
            assert names, f"{p['title']}: {t['expr']} selects no metric"
            for name in names:
                assert base_metric(name) in CONTRACT_METRICS or name in recorded, (
                    f"{p['title']}: {name!r} is not a slaprobe metric or recording rule"
                )


def test_dashboard_covers_the_issue() -> None:
    d = dashboard()
    panels = all_panels(d["panels"])
    exprs = " ".join(t["expr"] for p in panels for t in p.get("targets", []))
    by_type = {p["type"] for p in panels}
    assert {"stat", "timeseries", "state-timeline", "bargauge"} <= by_type
    for needle in (
        'slaprobe_service_availability_ratio{service="$service", window="$window"}',
        'slaprobe_error_budget_remaining_ratio{service="$service", window="$window"}',
        "slaprobe_burn_rate",
        "slaprobe:service_burn_rate:rate1h",
        "slaprobe_target_up",
        "histogram_quantile(0.99",
        'slaprobe_availability_ratio{window="$window"}',
        'slaprobe_coverage_ratio{window="$window"}',
    ):
        assert needle in exprs, needle
    sla = next(p for p in panels if p["title"].startswith("SLA availability"))
    steps = sla["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "green", "value": 0.999} in steps
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["window"]["type"] == "query"
    assert "window)" in variables["window"]["query"]["query"]
    annotations = [a for a in d["annotations"]["list"] if a.get("expr")]
    assert any("slaprobe_maintenance_active" in a["expr"] for a in annotations)
    for a in annotations:
        assert a["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_dashboard_has_the_incidents_row() -> None:
    """Open incidents, their deadlines and this month's outcomes (SLA sections 3-4)."""
    panels = all_panels(dashboard()["panels"])
    row = next(p for p in panels if p["type"] == "row" and p["title"].startswith("Incidents"))
    below = [p for p in panels if p["type"] != "row" and p["gridPos"]["y"] > row["gridPos"]["y"]]
    exprs = " ".join(t["expr"] for p in below for t in p.get("targets", []))
    for needle in (
        "slaprobe_incidents_open",
        "slaprobe_incident_deadline_timestamp_seconds",
        "slaprobe_incident_business_seconds_left",
        'slaprobe_incidents{window="month"}',
    ):
        assert needle in exprs, needle
