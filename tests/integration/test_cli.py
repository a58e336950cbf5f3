"""The ``zigral`` command against the real RabbitMQ and Redis, in a namespace of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from zigral import broker
from zigral.config import Settings, load_settings
from zigral.constants import Names
from zigral.devstack import purge_namespace, unique_namespace
from zigral.messages import Command
from zigral.state import TaskStore

from .conftest import services_available

pytestmark = pytest.mark.integration

ZIGRAL = str(Path(sys.executable).with_name("zigral"))


@pytest.fixture
def settings() -> Iterator[Settings]:
    s = load_settings(runtime={"namespace": unique_namespace()})
    services_available(s)
    yield s
    purge_namespace(s)


def zigral(
    settings: Settings, cwd: Path, *args: str, stdout: int = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIGRAL_")}
    env["ZIGRAL_RUNTIME__NAMESPACE"] = settings.runtime.namespace
    return subprocess.run([ZIGRAL, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)


def closed_pipe() -> int:
    """The write end of a pipe whose reader is gone, as ``| head`` leaves it once head has exited."""
    read, write = os.pipe()
    os.close(read)
    return write


def test_submit_into_a_closed_pipe_still_publishes_with_its_max_age_and_ends_quietly(
    settings: Settings, tmp_path: Path
) -> None:
    pipe = closed_pipe()
    try:
        done = zigral(
            settings, tmp_path, "submit", "lincoln", "send_connection", "--max-age", "2d", stdout=pipe
        )
    finally:
        os.close(pipe)
    assert (done.returncode, done.stderr) == (141, "")
    conn = broker.connect(settings)
    try:
        ch = conn.channel()
        method, _props, body = ch.basic_get(
            Names(settings.runtime.namespace).agent_queue("lincoln"), auto_ack=True
        )
    finally:
        conn.close()
    assert isinstance(method, pika.spec.Basic.GetOk), "the command was not published"
    command = Command.decode(body, settings.runtime.max_body_bytes)
    assert command.action == "send_connection" and command.max_age == 2 * 86400


def test_watch_replay_into_a_closed_pipe_ends_quietly(settings: Settings, tmp_path: Path) -> None:
    store = TaskStore.from_settings(settings)
    for i in range(3):
        store.transition(
            Command(id=f"w-{i}", agent="shaun", action="read_range"), "succeeded", settings.vm_id
        )
    pipe = closed_pipe()
    try:
        done = zigral(settings, tmp_path, "watch", "--replay", stdout=pipe)
    finally:
        os.close(pipe)
    assert (done.returncode, done.stderr) == (141, "")


def test_task_shows_a_task_and_status_with_its_id_still_does(settings: Settings, tmp_path: Path) -> None:
    store = TaskStore.from_settings(settings)
    command = Command(agent="shaun", action="read_range")
    store.transition(command, "running", settings.vm_id)
    store.transition(command, "succeeded", settings.vm_id, result={"rows": []})
    task = zigral(settings, tmp_path, "task", command.id)
    assert task.returncode == 0, task.stderr
    record = json.loads(task.stdout)
    assert record["status"] == "succeeded"
    assert [h["status"] for h in record["history"]] == ["running", "succeeded"]
    old = zigral(settings, tmp_path, "status", command.id)
    assert old.returncode == 0 and json.loads(old.stdout)["status"] == "succeeded"
    unknown = zigral(settings, tmp_path, "task", "no-such-task")
    assert unknown.returncode == 1 and "no task 'no-such-task'" in unknown.stderr


def test_a_task_waiting_for_a_person_points_to_the_public_url(settings: Settings, tmp_path: Path) -> None:
    store = TaskStore.from_settings(settings)
    command = Command(agent="lincoln", action="visit_profile")
    store.transition(command, "needs_human", settings.vm_id, error="a security check")
    task = zigral(settings, tmp_path, "task", command.id)
    assert task.returncode == 0, task.stderr
    assert json.loads(task.stdout)["novnc"] == settings.web.public_url
    assert "localhost" not in settings.web.public_url
