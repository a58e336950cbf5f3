"""The base every agent extends: the generic actions plus the agent's own."""

from __future__ import annotations

from typing import Any, ClassVar

from zigral.actions import GENERIC, Action
from zigral.errors import Rejected


class Agent:
    """An agent: a name and a table of actions. Site agents add their actions in ``site_actions``."""

    name: ClassVar[str]
    site_actions: ClassVar[dict[str, Action[Any]]] = {}

    def __init__(self) -> None:
        self.actions: dict[str, Action[Any]] = {**GENERIC, **self.site_actions}

    def action(self, name: str) -> Action[Any]:
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions))
            raise Rejected(f"unknown action {name!r} for agent {self.name}; known: {known}") from None
