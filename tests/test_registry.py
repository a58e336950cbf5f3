"""The agent registry and per-agent settings: agents come from the ``zigral.agents`` entry points, Zigral's
own included, and everything the core derives for an agent follows from the registry and the settings."""

from __future__ import annotations

import json
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from zigral import registry
from zigral.agent_config import AgentSettings
from zigral.agents.base import Agent
from zigral.config import REPO_ROOT, load_settings, to_env
from zigral.errors import ConfigError
from zigral.render import render


def test_zigrals_own_agents_come_from_its_entry_points_in_window_order() -> None:
    names = registry.names()
    assert names[:2] == ("lincoln", "shaun")
    assert registry.shipped() == ("lincoln", "shaun")
    assert "example" in names  # the test venv's plugin (tests/plugins/example)
    assert all(issubclass(registry.agent_class(n), Agent) for n in names)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("nowhere", "zigral_no_such_module:Agent", "cannot be loaded: ModuleNotFoundError"),
        ("notagent", "zigral.config:Settings", "not a subclass of zigral.agents.base.Agent"),
        ("other", "zigral.agents.lincoln:Lincoln", "the class's name is 'lincoln', not 'other'"),
        ("acct", "zigral.agents.lincoln:Lincoln", "'acct' is a word of the protocol"),  # a routing key's
        ("Bad.Name", "zigral.agents.lincoln:Lincoln", "lower case letters"),
        ("loose", "tests.test_registry:Loose", "does not extend zigral.agent_config.AgentSettings"),
    ],
)
def test_a_broken_plugin_is_an_error_naming_it(name: str, value: str, error: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(error)) as caught:
        registry._load(EntryPoint(name, value, "zigral.agents"))
    assert repr(value) in str(caught.value)


class Loose(Agent):
    name = "loose"
    settings_model = dict  # type: ignore[assignment]


@pytest.mark.parametrize(
    "second",
    [
        "tests.test_registry:Impostor",  # another package's agent of the same name: which would win?
        "zigral.agents.shaun:Shaun",  # (its class's name differs too, but the clash is said first)
    ],
)
def test_two_agents_of_one_name_are_an_error_not_a_silent_winner(
    monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    eps = [
        EntryPoint("lincoln", "zigral.agents.lincoln:Lincoln", "zigral.agents"),
        EntryPoint("lincoln", second, "zigral.agents"),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps)
    with pytest.raises(ConfigError, match=f"two agents are called 'lincoln'.*{re.escape(repr(second))}"):
        registry.installed.__wrapped__()


def test_the_same_agent_seen_twice_on_the_path_is_one_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("lincoln", "zigral.agents.lincoln:Lincoln", "zigral.agents")
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep, ep])  # an editable install and its build
    assert list(registry.installed.__wrapped__()) == ["lincoln"]


class Impostor(Agent):
    name = "lincoln"


def test_an_unknown_agent_is_named_with_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match="no agent 'crm' is installed; installed: lincoln, shaun"):
        registry.agent_class("crm")


def test_each_agent_reads_its_own_settings_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZIGRAL_AGENTS__LINCOLN__ACCOUNT", "alice")
    monkeypatch.setenv("ZIGRAL_AGENTS__SHAUN__METRICS_PORT", "9300")
    monkeypatch.setenv("ZIGRAL_AGENTS__EXAMPLE__ENABLED", "true")
    settings = load_settings(None)
    assert settings.agent_settings("lincoln").account == "alice"
    assert settings.metrics_port("shaun") == 9300
    assert settings.enabled_agents() == ("lincoln", "shaun", "example")


def test_the_variables_from_before_plugins_still_work_and_the_new_ones_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZIGRAL_LINCOLN__BASE_URL", "http://old.example")
    monkeypatch.setenv("ZIGRAL_LINCOLN__ACCOUNT", "old")
    monkeypatch.setenv("ZIGRAL_AGENTS__LINCOLN__ACCOUNT", "new")
    monkeypatch.setenv("ZIGRAL_METRICS__SHAUN_PORT", "9301")
    settings = load_settings(None)
    lincoln = settings.agent_settings("lincoln")
    assert (lincoln.base_url, lincoln.account) == ("http://old.example", "new")  # type: ignore[attr-defined]
    assert settings.metrics_port("shaun") == 9301
    assert load_settings(None, shaun={"account": "g"}).agent_settings("shaun").account == "g"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"agents": {"crm": {}}}, "ZIGRAL_AGENTS__CRM: no agent 'crm' is installed"),
        ({"agents": {"lincoln": {"pause_mn": 1}}}, "ZIGRAL_AGENTS__LINCOLN__PAUSE_MN=1: Extra inputs"),
        ({"agents": {"shaun": {"verify_timeout": -1}}}, "ZIGRAL_AGENTS__SHAUN__VERIFY_TIMEOUT=-1"),
        ({"agents": {"example": {"enabled": True, "metrics_port": 9103}}}, "ports collide"),  # the ops port
    ],
)
def test_a_bad_agent_setting_is_refused_naming_its_variable(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(None, **overrides)


def test_an_agent_section_survives_the_rendered_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = load_settings(None, agents={"example": {"enabled": True, "base_url": "http://notes"}})
    for key, value in to_env(original).items():
        monkeypatch.setenv(key, value)
    again = load_settings(None)
    assert again == original
    assert again.agent_settings("example").model_dump()["base_url"] == "http://notes"


def supervised_programs(conf: Path) -> set[str]:
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    return {p.name for g in options.process_group_configs if g.name == "agents" for p in g.process_configs}


def test_every_enabled_agent_and_only_those_get_a_program_and_a_scrape_target(open_dir: Path) -> None:
    def rendered(**agents: dict) -> tuple[set[str], list[dict]]:
        settings = load_settings(
            None,
            paths={"state_dir": open_dir / "s", "run_dir": open_dir / "r", "log_dir": open_dir / "l"},
            captures={"dir": open_dir / "c"},
            agents=agents,
        )
        render(settings)
        targets = json.loads(settings.paths.prometheus_targets.read_text())
        return supervised_programs(settings.paths.supervisor_conf), targets

    programs, targets = rendered()
    assert programs == {"lincoln", "shaun"}  # the example plugin is installed but off by default
    assert targets == [
        {"targets": ["127.0.0.1:9101"], "labels": {"agent": "lincoln"}},
        {"targets": ["127.0.0.1:9102"], "labels": {"agent": "shaun"}},
    ]
    programs, targets = rendered(example={"enabled": True, "metrics_port": 9120}, lincoln={"enabled": False})
    assert programs == {"shaun", "example"}
    assert [t["labels"]["agent"] for t in targets] == ["shaun", "example"]
    assert targets[1]["targets"] == ["127.0.0.1:9120"]


def test_the_core_names_no_agent() -> None:
    """Lincoln and Shaun are named only inside their own packages: the core serves any agent alike."""
    app = REPO_ROOT / "app" / "zigral"
    own = (app / "agents" / "lincoln", app / "agents" / "shaun")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{n}"
        for path in app.rglob("*.py")
        if not any(path.is_relative_to(d) for d in own)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"lincoln|shaun", line, re.IGNORECASE)
    ]
    assert offenders == []


def test_every_agent_setting_model_extends_the_common_one() -> None:
    for name in registry.names():
        assert issubclass(registry.agent_class(name).settings_model, AgentSettings), name
