"""Lincoln, the LinkedIn agent, as a plugin: registered under the ``zigral.agents`` entry point group."""

from __future__ import annotations

from zigral.agents.lincoln.agent import Lincoln
from zigral.agents.lincoln.settings import LincolnSettings

__all__ = ["Lincoln", "LincolnSettings"]
