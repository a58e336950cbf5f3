"""Shaun, the Google Sheets agent, as a plugin: registered under the ``zigral.agents`` entry point group."""

from __future__ import annotations

from zigral.agents.shaun.agent import Shaun
from zigral.agents.shaun.settings import ShaunSettings

__all__ = ["Shaun", "ShaunSettings"]
