"""A third agent, installed as a plugin (tests/plugins/example, in the test venv), on a real stack with no
change to the core: it is discovered, gets its supervisor program, queue, metrics target and status row, its
actions are in the catalogue, and a command sent over RabbitMQ runs end to end and is verified on the site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pika
import pytest
from zigral_example.fixture_site import NotesSite

from zigral import broker, windows
from zigral.client import Client
from zigral.config import load_settings
from zigral.constants import Names
from zigral.messages import Command, Result
from zigral.state import TaskStore
from zigral.testing.server import serve

from .conftest import Stack, booted_stack, eventually, services_available
from .test_metrics import scrape
from .test_ops import status_json
from .test_stack import is_blank
from .test_windows import browser_windows, live_view

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def notes() -> Iterator[tuple[NotesSite, str]]:
    site = NotesSite(["welcome"])
    with serve() as server:
        site.install(server)
        yield site, server.base


@pytest.fixture(scope="module")
def stack(notes: tuple[NotesSite, str]) -> Iterator[Stack]:
    _, base = notes
    services_available(load_settings())
    with booted_stack(
        runtime={"allow_private": [base.removeprefix("http://")], "heartbeat_interval": 1.0},
        agents={"example": {"enabled": True, "base_url": base}},
    ) as stack:
        yield stack


def run(stack: Stack, action: str, **params: Any) -> Result:
    with Client(stack.settings) as client:
        return client.call(Command(agent="example", action=action, params=params), timeout=60)


def test_the_plugin_gets_a_program_a_queue_and_a_metrics_target(stack: Stack) -> None:
    assert stack.states()["agents:example"] == "RUNNING"
    conf = stack.settings.paths.supervisor_conf.read_text()
    assert "[program:example]" in conf and "programs=lincoln,shaun,example" in conf
    targets = json.loads(stack.settings.paths.prometheus_targets.read_text())
    port = stack.settings.metrics_port("example")
    assert {"targets": [f"127.0.0.1:{port}"], "labels": {"agent": "example"}} in targets
    queue = Names(stack.settings.runtime.namespace).agent_queue("example")
    conn = broker.connect(stack.settings)
    try:
        declared = conn.channel().queue_declare(queue, passive=True)
        assert declared.method.consumer_count == 1  # the example agent's worker is on it
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise AssertionError(f"no queue {queue}: {exc}") from None
    finally:
        conn.close()


def test_its_actions_are_in_the_catalogue(stack: Stack) -> None:
    listed = stack.zigral("schema", "--list", check=True).stdout.split()
    assert {"example.add_note", "example.read_notes"} <= set(listed)
    schema = json.loads(stack.zigral("schema", "example.add_note", check=True).stdout)
    assert schema["params"]["properties"]["text"]["maxLength"] == 200
    assert set(schema["result"]["properties"]) == {"note", "count", "verified"}


def test_a_command_runs_end_to_end_and_is_verified_on_the_site(
    stack: Stack, notes: tuple[NotesSite, str]
) -> None:
    site, _ = notes
    result = run(stack, "add_note", text="from the queue")
    assert result.status == "succeeded", result
    assert result.result == {"note": "from the queue", "count": 2, "verified": "listed"}
    assert site.notes == ["welcome", "from the queue"]
    record = TaskStore.from_settings(stack.settings).get(result.id)
    assert record is not None and record["status"] == "succeeded" and record["agent"] == "example"
    read = run(stack, "read_notes")
    assert read.status == "succeeded" and read.result == {"notes": ["welcome", "from the queue"]}
    metrics = scrape(stack.settings.metrics_port("example"))
    assert metrics["zigral_commands_total{action=add_note,agent=example,outcome=succeeded}"] == 1


def test_bad_params_end_in_a_rejection_and_the_agent_keeps_serving(
    stack: Stack, notes: tuple[NotesSite, str]
) -> None:
    site, _ = notes
    before = list(site.notes)
    rejected = run(stack, "add_note", text=7)
    assert rejected.status == "rejected" and "text" in (rejected.error or ""), rejected
    assert site.notes == before
    assert run(stack, "read_notes").status == "succeeded"


def test_the_status_page_has_its_row(stack: Stack) -> None:
    def row() -> dict[str, Any] | None:
        rows = [a for a in status_json(stack)["agents"] if a["agent"] == "example"]
        return rows[0] if rows else None

    found = eventually(row, "the example agent's heartbeat on the status page", 30)
    assert found["vm_id"] == stack.settings.vm_id


def test_the_live_view_gives_it_a_labelled_column_beside_the_others(
    stack: Stack, notes: tuple[NotesSite, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, base = notes
    with Client(stack.settings) as client:  # every agent's work tab open, each in its own window
        for agent in ("lincoln", "shaun", "example"):
            command = Command(agent=agent, action="navigate", params={"url": f"{base}/notes"})
            assert client.call(command, timeout=60).status == "succeeded"

    def columns() -> dict[str, str] | None:
        found = {
            url.removeprefix(windows.label_url("")): bounds
            for tabs in browser_windows(stack).values()
            for url, _title in tabs
            if url.startswith(windows.label_url(""))
            for kind, bounds in tabs
            if kind == "bounds"
        }
        return found if len(found) == 3 else None

    found = eventually(columns, "three labelled agent windows", 60)
    width = stack.settings.display.width
    lefts = {agent: int(bounds.split(",")[0]) for agent, bounds in found.items()}
    assert lefts == {"lincoln": 0, "shaun": width // 3, "example": 2 * width // 3}, found
    shot = live_view(stack, tmp_path_factory.getbasetemp() / "live-view-three-agents.png")
    assert not is_blank(shot)
