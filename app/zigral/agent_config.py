"""Every agent's settings section: the common model (``AgentSettings``), its validation against each installed
agent's own model, and the variable names from before agents were plugins.

``ZIGRAL_AGENTS__<NAME>__<KEY>`` is the form; ``ZIGRAL_<NAME>__<KEY>``, ``ZIGRAL_METRICS__<NAME>_PORT`` (and
``Settings(<name>={...})``) still work, the new form winning where both are set. Errors name the variable.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from zigral.constants import ADDRESS_PATTERN


class AgentSettings(BaseModel):
    """What every agent has, whoever wrote it: ``ZIGRAL_AGENTS__<NAME>__<KEY>``. An agent's own settings
    model extends this one (``Agent.settings_model``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, description="run this agent on this VM: its supervisor program, queue, metrics and status row"
    )
    account: str = Field(
        "default",
        pattern=ADDRESS_PATTERN,  # it names a queue
        description="the site account this VM's browser is signed in to for the agent: quotas are counted "
        "for it across VMs, and commands addressed to it come here",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="its Prometheus exporter on metrics.bind (None: the agent's default)",
    )


S = TypeVar("S", bound=AgentSettings)


def validate_sections(raw: dict[str, dict[str, Any]], reserved: set[str]) -> dict[str, AgentSettings]:
    """Each installed agent's section, validated by its own settings model (absent: its defaults)."""
    from zigral import registry  # the registry loads the agents, which import the settings

    installed = registry.installed()
    unknown = sorted(set(raw) - set(installed))
    if unknown:
        raise ValueError(
            f"ZIGRAL_AGENTS__{unknown[0].upper()}: no agent {unknown[0]!r} is installed "
            f"(installed: {', '.join(installed) or 'none'})"
        )
    sections: dict[str, AgentSettings] = {}
    for name, agent in installed.items():
        if name in reserved:
            raise ValueError(f"agent {name!r} has the name of a settings group; rename the agent")
        try:
            sections[name] = agent.settings_model.model_validate(raw.get(name, {}))
        except ValidationError as exc:
            raise ValueError(
                "; ".join(
                    f"ZIGRAL_AGENTS__{name.upper()}__{'__'.join(map(str, e['loc'])).upper()}"
                    f"={e.get('input')!r}: {e['msg']}"
                    for e in exc.errors()
                )
            ) from None
    return sections


def move_legacy_keys(data: Any, reserved: set[str]) -> Any:
    """``<agent>={...}``, ``<agent>__base_url=...`` and ``metrics={"<agent>_port": ...}``, the forms from
    before agents were plugins, moved under ``agents`` (the new form wins where both are set)."""
    if not isinstance(data, dict):
        return data
    from zigral import registry

    data = dict(data)
    agents: dict[str, Any] = {name: dict(v) for name, v in (data.get("agents") or {}).items()}
    for name in registry.installed():
        if name in reserved:
            continue
        old: dict[str, Any] = dict(data.pop(name, None) or {})
        for key in [k for k in data if k.lower().startswith(f"{name}__")]:
            _nest(old, key.lower()[len(name) + 2 :].split("__"), data.pop(key))
        metrics = data.get("metrics")
        if isinstance(metrics, dict) and f"{name}_port" in metrics:
            metrics = dict(metrics)
            old.setdefault("metrics_port", metrics.pop(f"{name}_port"))
            data["metrics"] = metrics
        if old:
            agents[name] = {**old, **agents.get(name, {})}
    if agents:
        data["agents"] = agents
    return data


def _nest(into: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        into = into.setdefault(part, {})
    into[path[-1]] = value


class LegacyAgentEnv(PydanticBaseSettingsSource):
    """``ZIGRAL_<AGENT>__<KEY>`` from the environment, the names from before agents were plugins, read into
    ``agents`` (``ZIGRAL_AGENTS__<AGENT>__<KEY>`` wins over them). ``ZIGRAL_METRICS__<AGENT>_PORT`` needs
    nothing here: the environment source reads it into ``metrics``, and :func:`move_legacy_keys` moves it."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        from zigral import registry

        agents: dict[str, dict[str, Any]] = {}
        for key, value in os.environ.items():
            upper = key.upper()
            if not upper.startswith("ZIGRAL_"):
                continue
            head, sep, rest = upper[len("ZIGRAL_") :].partition("__")
            name, path = head.lower(), rest.lower().split("__")
            if not sep or name in self.settings_cls.model_fields:
                continue
            if name in registry.installed():
                _nest(agents.setdefault(name, {}), path, _json_or_text(value))
        return {"agents": agents} if agents else {}


def _json_or_text(value: str) -> Any:
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value
