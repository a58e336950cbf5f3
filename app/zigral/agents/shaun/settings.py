"""Shaun's settings: ``ZIGRAL_AGENTS__SHAUN__<KEY>`` (``ZIGRAL_SHAUN__<KEY>`` still works)."""

from __future__ import annotations

from pydantic import Field

from zigral.agent_config import AgentSettings


class ShaunSettings(AgentSettings):
    """Google Sheets: where, how fast, how long to wait for a write to read back."""

    metrics_port: int | None = Field(9102, ge=1, le=65535, description="its Prometheus exporter")
    base_url: str = "https://docs.google.com"
    keystroke_delay_ms: float = Field(30, ge=0, description="delay between typed keys")
    verify_timeout: float = Field(15, gt=0, description="seconds for a write to read back as written")
    ui_timeout: float = Field(5, gt=0, description="seconds for the editor, a tab or a Name Box jump")
    deadline_reserve: float = Field(
        2, ge=0, description="seconds before the deadline at which a long write stops, captures and reports"
    )
    paste: bool = Field(True, description="write blocks by pasting TSV (False: type every cell)")
    settle: float = Field(1, gt=0, description="seconds a read-back may stay unchanged before it is final")
    land_timeout: float = Field(3, gt=0, description="seconds for a paste to show at all before typing it")
    probe_timeout: float = Field(1.5, gt=0, description="seconds for the edit probe to reach the formula bar")
