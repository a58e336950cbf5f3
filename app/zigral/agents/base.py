"""The base every agent extends: the generic actions plus the agent's own."""

from __future__ import annotations

from typing import Any, ClassVar

from zigral.actions import Action
from zigral.config import QuotaLimit, Settings
from zigral.errors import Rejected
from zigral.generic import GENERIC


class Agent:
    """An agent: a name and a table of actions. Site agents add theirs with :meth:`site_actions`."""

    name: ClassVar[str]
    # The action the session canary runs (no params; its result says ``logged_in``), or None for no canary.
    canary_action: ClassVar[str | None] = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.actions: dict[str, Action[Any]] = {**GENERIC, **{a.name: a for a in self.site_actions()}}

    def site_actions(self) -> list[Action[Any]]:
        return []

    @property
    def quota_account(self) -> str:
        """Whose quotas the agent's actions take (shared by every VM working for that account)."""
        return "default"

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return {}

    def action(self, name: str) -> Action[Any]:
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions))
            raise Rejected(f"unknown action {name!r} for agent {self.name}; known: {known}") from None
