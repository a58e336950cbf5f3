"""The agent registry: every agent installed in this Python, found through the ``zigral.agents`` entry points.

The agents that ship with Zigral are registered in its own ``pyproject.toml`` as anyone's are in theirs::

    [project.entry-points."zigral.agents"]
    crm = "acme_zigral.crm:Crm"        # the name is the agent's name; the object an ``Agent`` subclass

From the registry (and the settings, which say which agents run here) follow the queues, the supervisor
programs, the metrics ports, the Prometheus targets, the status page rows and the CLI's choices; nothing
in the core names an agent. A plugin that cannot be loaded or is not a valid agent is an error naming its
package, not a silently missing agent.
"""

from __future__ import annotations

import functools
import re
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from zigral.constants import ACCOUNT_ROUTE, AGENT_ENTRY_POINTS, VM_ROUTE
from zigral.errors import ConfigError

if TYPE_CHECKING:
    from zigral.agents.base import Agent

# An agent's name is a queue name's and a routing key's word: lower case, no dots, no wildcards.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED = frozenset({ACCOUNT_ROUTE, VM_ROUTE, "task", "agent", "retry", "dead", "events", "commands"})


def _load(ep: EntryPoint) -> type[Agent]:
    from zigral.agent_config import AgentSettings
    from zigral.agents.base import Agent  # the base imports the settings, which consult the registry

    where = f"entry point {ep.name!r} = {ep.value!r}" + (f" of {ep.dist.name}" if ep.dist else "")
    if ep.name in RESERVED:
        reserved = ", ".join(sorted(RESERVED))
        raise ConfigError(f"{where}: {ep.name!r} is a word of the protocol; reserved: {reserved}")
    if not NAME_PATTERN.match(ep.name):
        rule = "lower case letters, digits and _, at most 40, starting with a letter"
        raise ConfigError(f"{where}: an agent's name is {rule}")
    try:
        cls = ep.load()
    except Exception as exc:
        raise ConfigError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ConfigError(f"{where} is not a subclass of zigral.agents.base.Agent")
    if getattr(cls, "name", None) != ep.name:
        raise ConfigError(f"{where}: the class's name is {getattr(cls, 'name', None)!r}, not {ep.name!r}")
    model = getattr(cls, "settings_model", None)
    if not (isinstance(model, type) and issubclass(model, AgentSettings)):
        raise ConfigError(
            f"{where}: settings_model {model!r} does not extend zigral.agent_config.AgentSettings"
        )
    return cls


def _origin(ep: EntryPoint) -> str:
    return f"{ep.value!r} of {ep.dist.name if ep.dist else 'an unknown package'}"


@functools.cache
def installed() -> dict[str, type[Agent]]:
    """Every installed agent by name, in window order (``Agent.order``, then name)."""
    found: dict[str, type[Agent]] = {}
    seen: dict[str, EntryPoint] = {}
    for ep in entry_points(group=AGENT_ENTRY_POINTS):
        first = seen.get(ep.name)
        if first is not None:
            if first.value == ep.value:
                continue  # the same package seen twice on sys.path (an editable install and its build)
            raise ConfigError(  # never a silent winner by install order, nor a plugin replacing a built-in
                f"two agents are called {ep.name!r}: {_origin(first)} and {_origin(ep)}; uninstall one"
            )
        seen[ep.name] = ep
        found[ep.name] = _load(ep)
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def names() -> tuple[str, ...]:
    return tuple(installed())


def agent_class(name: str) -> type[Agent]:
    try:
        return installed()[name]
    except KeyError:
        raise ConfigError(
            f"no agent {name!r} is installed; installed: {', '.join(installed()) or 'none'}"
        ) from None


def shipped() -> tuple[str, ...]:
    """The agents that come with Zigral itself (their actions are in docs/PROTOCOL.md)."""
    ours = {ep.name for ep in entry_points(group=AGENT_ENTRY_POINTS) if ep.dist and ep.dist.name == "zigral"}
    return tuple(name for name in installed() if name in ours)
