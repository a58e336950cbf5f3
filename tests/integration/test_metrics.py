"""Agents' Prometheus metrics, scraped by a real Prometheus server with deploy/prometheus.yml."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from zigral.client import Client
from zigral.config import REPO_ROOT, load_settings
from zigral.messages import Command

from .conftest import Stack, booted_stack, free_port, require, services_available

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
    port = stack.settings.metrics.shaun_port
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


def test_a_real_prometheus_scrapes_both_agents_with_the_shipped_config(stack: Stack, tmp_path: Path) -> None:
    require("prometheus", shutil.which("prometheus") is not None)
    s = stack.settings
    config = (REPO_ROOT / "deploy" / "prometheus.yml").read_text()
    config = config.replace("127.0.0.1:9101", f"127.0.0.1:{s.metrics.lincoln_port}")
    config = config.replace("127.0.0.1:9102", f"127.0.0.1:{s.metrics.shaun_port}")
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s")
    (tmp_path / "prometheus.yml").write_text(config)
    check = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=3) as resp:
                    targets = json.load(resp)["data"]["activeTargets"]
                health = {t["labels"]["agent"]: t["health"] for t in targets}
                if health == {"lincoln": "up", "shaun": "up"}:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert health == {"lincoln": "up", "shaun": "up"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
