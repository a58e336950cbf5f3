"""The benchmark harness keeps working: a smoke run with tiny counts (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zigral.config import REPO_ROOT, load_settings

from .conftest import services_available

pytestmark = pytest.mark.integration


def test_the_harness_runs_every_section_and_writes_its_table(tmp_path: Path) -> None:
    services_available(load_settings())
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    expected = {
        "overhead",
        "throughput",
        "cold_start",
        "recovery",
        "memory",
        "captures",
        "scale",
        "site_agents",
        "profile",
        "egress",
    }
    assert expected <= set(results)
    assert results["overhead"]["ratio"] > 0 and results["throughput"]["dramatiq_median"] > 0
    table = (tmp_path / "latest.md").read_text()
    assert "| navigate + title, per command |" in table and "dramatiq" in table
