"""The status page's data: alert lines an operator reads at a glance."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from zigral.metrics import AgentMetrics
from zigral.ops.status import _locator_alerts


def test_an_agent_whose_locators_missed_gets_an_alert_line_naming_them_worst_first() -> None:
    beats = [
        {
            "agent": "lincoln",
            "vm_id": "vm1",
            "locator_misses": json.dumps({"next_page": 1, "profile_name": 4}),
        },
        {"agent": "shaun", "vm_id": "vm1", "locator_misses": "{}"},
    ]
    assert _locator_alerts(beats) == [
        "lincoln on vm1: locators found nothing: profile_name (4), next_page (1)"
    ]


def test_a_heartbeat_without_locator_figures_gives_no_line() -> None:
    assert _locator_alerts([{"agent": "lincoln", "vm_id": "vm1"}, {"locator_misses": "not json"}]) == []


def test_the_agent_counts_its_locator_misses_for_its_heartbeat() -> None:
    metrics = AgentMetrics("lincoln", CollectorRegistry())
    assert metrics.locator_miss_counts() == {}
    metrics.locator_misses.labels("lincoln", "profile_name").inc()
    metrics.locator_misses.labels("lincoln", "profile_name").inc()
    metrics.locator_misses.labels("lincoln", "next_page").inc()
    assert metrics.locator_miss_counts() == {"profile_name": 2, "next_page": 1}
