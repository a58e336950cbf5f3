"""The alert rules, the Grafana dashboard and the scrape config agree with the metrics Zigral exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from zigral.config import REPO_ROOT
from zigral.metrics import OPS_FAMILIES, AgentMetrics

PROM = REPO_ROOT / "deploy" / "prometheus"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "zigral-vm.json"


def exported_names() -> set[str]:
    """Every series name Zigral exports (counters with _total, histograms with their suffixes)."""
    names = {name for name in OPS_FAMILIES}
    registry = CollectorRegistry()
    AgentMetrics("lincoln", registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    return names | {"up", "ALERTS"}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # selectors
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w.startswith("zigral_")}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (make test installs it)")
    return path


def test_the_alert_rules_are_valid() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", str(PROM / "alerts.yml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yml"], cwd=PROM, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_alert_uses_only_metrics_that_exist() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    known = exported_names()
    for group in rules["groups"]:
        for rule in group["rules"]:
            unknown = metric_names(rule["expr"]) - known
            assert not unknown, f"{rule['alert']} uses {unknown}"


def test_the_alerts_cover_the_failures_we_know() -> None:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    for expected in (
        "ZigralProgramFatal",
        "ZigralProgramFlapping",
        "ZigralAgentHeartbeatMissing",
        "ZigralBrowserDisconnected",
        "ZigralDeadLettersRising",
        "ZigralQueueAgeGrowing",
        "ZigralDiskNearlyFull",
        "ZigralShmNearlyFull",
        "ZigralMemoryGrowth",
        "ZigralLocatorMissing",
    ):
        assert expected in names


def test_every_dashboard_panel_queries_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    known = exported_names()
    targets = [t for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 20
    for target in targets:
        unknown = metric_names(target["expr"]) - known
        assert not unknown, f"{target['expr']} uses {unknown}"


def test_the_dashboard_shows_every_ops_metric_family() -> None:
    text = DASHBOARD.read_text()
    missing = [name for name in OPS_FAMILIES if name not in text and name != "zigral_queue_stats_source"]
    assert not missing


def test_the_scrape_config_loads_the_rules_and_scrapes_the_agents_and_the_ops_exporter() -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["prometheus/alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"zigral-agents", "zigral-ops"}
    assert jobs["zigral-ops"]["static_configs"][0]["targets"] == ["127.0.0.1:9103"]
