"""Grafana's provisioning files and the dashboard's import inputs agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_datasource_provisioning() -> None:
    doc = load(GRAFANA / "provisioning" / "datasources" / "slaprobe.yml")
    assert doc["apiVersion"] == 1
    [ds] = doc["datasources"]
    assert ds["type"] == "prometheus" and ds["access"] == "proxy"
    assert ds["url"].startswith("http") and ds["uid"]


def test_dashboard_provider_loads_the_shipped_dashboard() -> None:
    doc = load(GRAFANA / "provisioning" / "dashboards" / "slaprobe.yml")
    assert doc["apiVersion"] == 1
    [provider] = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/slaprobe"


def test_import_asks_for_the_prometheus_datasource() -> None:
    dash = json.loads((GRAFANA / "slaprobe.json").read_text())
    assert next(iter(dash)) == "__inputs"
    [inp] = dash["__inputs"]
    assert inp == {"name": "DS_PROMETHEUS", "label": "Prometheus",
                   "description": "The Prometheus that scrapes slaprobe", "type": "datasource",
                   "pluginId": "prometheus", "pluginName": "Prometheus"}
    [var] = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert var["current"]["value"] == "${DS_PROMETHEUS}"
    # Every panel queries through that variable, so the choice made at import applies.
    for panel in dash["panels"]:
        if "datasource" in panel:
            assert panel["datasource"]["uid"] == "${datasource}", panel.get("title")
    assert {"type": "datasource", "id": "prometheus"}.items() <= next(
        r for r in dash["__requires"] if r.get("id") == "prometheus").items()
