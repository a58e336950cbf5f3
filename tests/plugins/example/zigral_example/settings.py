"""The example agent's settings: ``ZIGRAL_AGENTS__EXAMPLE__<KEY>``."""

from __future__ import annotations

from pydantic import Field

from zigral.agent_config import AgentSettings


class ExampleSettings(AgentSettings):
    """The notes site: where it is, how long to wait for it. Off unless enabled."""

    enabled: bool = Field(False, description="off by default: a VM runs it only when asked to")
    base_url: str = Field("http://127.0.0.1:8080", description="the notes site")
    ui_wait: float = Field(5, gt=0, description="seconds for a saved note to show in the list")
