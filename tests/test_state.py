from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from zigral.constants import Names
from zigral.messages import Command
from zigral.state import TaskStore


@pytest.fixture
def store(client: redis.Redis) -> Iterator[TaskStore]:
    names = Names("zu" + uuid.uuid4().hex[:8])
    yield TaskStore(client, names, retention=300, events_maxlen=1000)
    keys = list(client.scan_iter(match=f"{names.namespace}:*"))
    if keys:
        client.delete(*keys)


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


def test_task_records_and_histories_of_ids_that_look_alike_never_share_a_key(store: TaskStore) -> None:
    for task_id in ("demo1", "demo1:history", "history:demo1"):
        command = Command(id=task_id, agent="lincoln", action="echo")
        store.begin_attempt(command)
        store.transition(command, "succeeded", "vm-1", result={"id": task_id})
    for task_id in ("demo1", "demo1:history", "history:demo1"):
        record = store.get(task_id)
        assert record is not None and record["result"] == {"id": task_id}
        assert [h["status"] for h in store.history(task_id)] == ["succeeded"]


def test_an_invalid_messages_rejection_is_recorded_but_leaves_the_id_free(store: TaskStore) -> None:
    event, stored = store.record_invalid("fix-1", "shaun", "invalid command: timeout", "vm-1")
    assert stored and event.status == "rejected"
    assert store.get("fix-1") is not None and store.stored_result("fix-1") is None
    command = Command(id="fix-1", agent="shaun", action="echo")
    assert store.begin_attempt(command) == 1
    store.transition(command, "succeeded", "vm-1", result={})
    done = store.stored_result("fix-1")
    assert done is not None and done.status == "succeeded" and done.error is None
    _event, stored_again = store.record_invalid("fix-1", "shaun", "invalid again", "vm-1")
    assert not stored_again and store.get("fix-1")["status"] == "succeeded"  # type: ignore[index]


def test_a_crash_count_grows_per_body_until_the_delivery_is_forgotten(store: TaskStore) -> None:
    assert [store.count_crash("fp1", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert store.auto_id("fp1", "first", ttl=60) == "first"
    assert store.auto_id("fp1", "second", ttl=60) == "first"
    store.forget_delivery("fp1")
    assert store.count_crash("fp1", ttl=60) == 1 and store.auto_id("fp1", "third", ttl=60) == "third"


def test_a_redis_that_lost_its_data_is_told_by_its_epoch(store: TaskStore) -> None:
    epoch, wiped = store.check_epoch(None, "e1")
    assert (epoch, wiped) == ("e1", False)
    assert store.check_epoch(epoch, "e2") == ("e1", False)
    assert store.redis_wiped() is None
    store.client.delete(store.names.epoch_key)  # what FLUSHALL or a restart without persistence does
    assert store.check_epoch(epoch, "e3") == ("e3", True)
    wiped = store.redis_wiped()
    assert wiped is not None and wiped["lost_epoch"] == "e1" and wiped["epoch"] == "e3"


def test_redis_refusing_an_operation_is_not_mistaken_for_an_outage(store: TaskStore) -> None:
    from zigral.errors import StateError, StateUnavailable

    store.client.set(store.names.task_key("wrong"), "x")
    with pytest.raises(StateError) as refused:
        store.get("wrong")
    assert not isinstance(refused.value, StateUnavailable)
    down = TaskStore(redis.Redis(port=1, socket_connect_timeout=0.2), store.names, 60, 100)
    with pytest.raises(StateUnavailable):
        down.get("x")
