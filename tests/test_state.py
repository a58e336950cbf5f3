from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from zigral.constants import Names
from zigral.messages import Command
from zigral.state import TaskStore


@pytest.fixture
def store() -> Iterator[TaskStore]:
    client = redis.Redis.from_url(
        os.environ.get("ZIGRAL_REDIS__URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis")
    names = Names("zu" + uuid.uuid4().hex[:8])
    yield TaskStore(client, names, retention=300, events_maxlen=1000)
    keys = list(client.scan_iter(match=f"{names.namespace}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_status_change_updates_record_history_index_and_stream_together(store: TaskStore) -> None:
    command = Command(agent="lincoln", action="echo", params={"a": 1})
    store.begin_attempt(command)
    store.transition(command, "running", "vm-1")
    store.transition(command, "succeeded", "vm-1", result={"a": 1})
    record = store.get(command.id)
    assert record is not None
    assert record["status"] == "succeeded" and record["result"] == {"a": 1} and record["attempts"] == 1
    assert [h["status"] for h in store.history(command.id)] == ["running", "succeeded"]
    assert [r["id"] for r in store.recent(limit=5)] == [command.id]
    assert [(e.id, e.status) for _, e in store.events()] == [
        (command.id, "running"),
        (command.id, "succeeded"),
    ]
    assert 0 < store.client.ttl(store.names.task_key(command.id)) <= 300


def test_a_counted_attempt_is_already_a_queued_record_and_a_later_count_keeps_the_status(
    store: TaskStore,
) -> None:
    command = Command(agent="lincoln", action="sleep")
    assert store.begin_attempt(command) == 1
    record = store.get(command.id)
    assert record is not None
    assert (record["status"], record["agent"], record["action"], record["attempts"]) == (
        "queued",
        "lincoln",
        "sleep",
        1,
    )
    store.transition(command, "running", "vm-1")
    assert store.begin_attempt(command) == 2
    again = store.get(command.id)
    assert again is not None and again["status"] == "running" and again["attempts"] == 2


def test_only_a_finished_task_has_a_stored_result(store: TaskStore) -> None:
    command = Command(agent="shaun", action="echo")
    store.transition(command, "running", "vm-1")
    assert store.stored_result(command.id) is None
    store.transition(command, "failed", "vm-1", error="boom")
    stored = store.stored_result(command.id)
    assert stored is not None and stored.status == "failed" and stored.error == "boom"


def test_a_run_lock_has_one_owner_and_only_the_owner_releases_it(store: TaskStore) -> None:
    assert store.acquire("t1", "owner-a", ttl=30) is None
    assert store.acquire("t1", "owner-b", ttl=30) == "owner-a"
    store.release("t1", "owner-b")
    assert store.acquire("t1", "owner-b", ttl=30) == "owner-a"
    store.release("t1", "owner-a")
    assert store.acquire("t1", "owner-b", ttl=30) is None


def test_a_heartbeat_expires_by_itself(store: TaskStore) -> None:
    store.heartbeat("lincoln", "vm-1", 42, ttl=0.3, task="")
    assert [b["pid"] for b in store.heartbeats("lincoln")] == [42]
    time.sleep(0.5)
    assert store.heartbeats("lincoln") == []
