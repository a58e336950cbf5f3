"""Lincoln's settings: ``ZIGRAL_AGENTS__LINCOLN__<KEY>`` (``ZIGRAL_LINCOLN__<KEY>`` still works)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from zigral.agent_config import AgentSettings
from zigral.config import QuotaLimit


def _linkedin_quotas() -> dict[str, QuotaLimit]:
    return {
        "connect": QuotaLimit(day=20, week=100),
        "message": QuotaLimit(day=50),
        "visit": QuotaLimit(day=80),
    }


class LincolnSettings(AgentSettings):
    """LinkedIn: where, as whom, how fast, and how much."""

    metrics_port: int | None = Field(9101, ge=1, le=65535, description="its Prometheus exporter")
    base_url: str = "https://www.linkedin.com"
    # {"username": "...", "password": "..."}: a secrets file outside the repo (mode 0600). Credentials are
    # never taken from a message and never logged.
    credentials_file: Path | None = None
    quotas: dict[str, QuotaLimit] = Field(default_factory=_linkedin_quotas)
    pause_min: float = Field(0.8, ge=0, description="seconds, lower bound of the random pause between steps")
    pause_max: float = Field(2.5, ge=0)
    keystroke_min_ms: float = Field(40, ge=0, description="per-keystroke typing delay, lower bound")
    keystroke_max_ms: float = Field(160, ge=0)
    human_wait: float = Field(300, gt=0, description="seconds to wait for an operator to clear a checkpoint")
    recheck_interval: float = Field(
        15, gt=0, description="while waiting for an operator, seconds between probes of the session itself"
    )
    ui_wait: float = Field(10, gt=0, description="seconds for an element to appear after a click or a load")
    pacing_reserve: float = Field(
        15, ge=0, description="seconds of a command kept for loads and checks; pacing shrinks to fit the rest"
    )
