"""The agents: each a small class with its site's actions and locators, nothing about queues or Redis."""

from __future__ import annotations

from zigral.agents.base import Agent
from zigral.agents.lincoln import Lincoln
from zigral.agents.shaun import Shaun

REGISTRY: dict[str, type[Agent]] = {"lincoln": Lincoln, "shaun": Shaun}

__all__ = ["REGISTRY", "Agent", "Lincoln", "Shaun"]
