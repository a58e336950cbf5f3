"""The base every agent extends: the generic actions plus the agent's own.

An agent is found through its package's ``zigral.agents`` entry point (:mod:`zigral.registry`; docs/AGENTS.md
walks through writing one). Everything else follows from its class: its queue and supervisor program from
``name``, its settings (``ZIGRAL_AGENTS__<NAME>__<KEY>``) from ``settings_model``, its window column from
``order``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from zigral.actions import Action
from zigral.agent_config import AgentSettings
from zigral.config import QuotaLimit, Settings
from zigral.errors import Rejected
from zigral.generic import GENERIC


class Agent:
    """An agent: a name and a table of actions. Site agents add theirs with :meth:`site_actions`."""

    name: ClassVar[str]
    # Its settings, validated when the settings load: extend AgentSettings (enabled, account, metrics_port).
    settings_model: ClassVar[type[AgentSettings]] = AgentSettings
    # Where its window goes on the shared screen: columns left to right by (order, name).
    order: ClassVar[int] = 100
    # The action the session canary runs (no params; its result says ``logged_in``), or None for no canary.
    canary_action: ClassVar[str | None] = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.agent_settings = settings.agent_settings(self.name)
        self.actions: dict[str, Action[Any]] = {**GENERIC, **{a.name: a for a in self.site_actions()}}

    def site_actions(self) -> list[Action[Any]]:
        return []

    @property
    def quota_account(self) -> str:
        """Whose quotas the agent's actions take (shared by every VM working for that account)."""
        return self.agent_settings.account

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return {}

    def action(self, name: str) -> Action[Any]:
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions))
            raise Rejected(f"unknown action {name!r} for agent {self.name}; known: {known}") from None
