"""Lincoln, the LinkedIn agent."""

from __future__ import annotations

from zigral.agents.base import Agent


class Lincoln(Agent):
    name = "lincoln"
