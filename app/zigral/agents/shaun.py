"""Shaun, the Google Sheets agent."""

from __future__ import annotations

from zigral.agents.base import Agent


class Shaun(Agent):
    name = "shaun"
