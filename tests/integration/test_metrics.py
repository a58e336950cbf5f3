"""Agents' Prometheus metrics (a real Prometheus scrapes them with the shipped config in test_ops.py)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zigral.client import Client
from zigral.config import load_settings
from zigral.messages import Command

from .conftest import Stack, booted_stack, services_available

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    services_available(load_settings())
    with booted_stack() as s:
        yield s


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def test_an_agent_exports_command_outcomes_and_connectivity(stack: Stack) -> None:
    port = stack.settings.metrics_port("shaun")
    with Client(stack.settings) as client:
        assert (
            client.call(Command(agent="shaun", action="echo", params={"a": 1}), timeout=60).status
            == "succeeded"
        )
        bad = client.call(Command(agent="shaun", action="navigate", params={"url": "file:///etc/passwd"}), 60)
        assert bad.status == "rejected"
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(port)
        if samples.get("zigral_browser_connected{agent=shaun}") == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert samples["zigral_commands_total{action=echo,agent=shaun,outcome=succeeded}"] == 1
    assert samples["zigral_commands_total{action=navigate,agent=shaun,outcome=rejected}"] == 1
    assert samples["zigral_dead_letters_total{agent=shaun,status=rejected}"] == 1
    assert samples["zigral_broker_connected{agent=shaun}"] == 1
    assert samples["zigral_browser_connected{agent=shaun}"] == 1
    assert samples["zigral_last_success_timestamp_seconds{agent=shaun}"] > time.time() - 120
