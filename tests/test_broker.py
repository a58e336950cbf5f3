from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from zigral import broker, registry
from zigral.broker import AgentEventOutbox, Publisher
from zigral.constants import Names
from zigral.errors import BrokerError
from zigral.messages import Command, Result


class FlakyPublisher:
    """Takes agent events while ``up``; raises BrokerError like a dropped connection otherwise."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def agent_event(self, agent: str, kind: str, data: dict[str, Any]) -> None:
        if not self.up:
            raise BrokerError("publish to 'agent.shaun.needs_human': StreamLostError")
        self.sent.append((agent, kind, data))


def test_an_agent_event_that_cannot_be_sent_waits_and_goes_out_in_order_after_the_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = AgentEventOutbox()
    down = FlakyPublisher(up=False)
    outbox.add("shaun", "needs_human", {"reason": "signed out"})
    outbox.flush(cast(Publisher, down))
    outbox.add("shaun", "session_ok", {"logged_in": True})
    outbox.flush(None)  # not connected at all
    assert len(outbox) == 2 and down.sent == []
    assert "needs_human not sent yet" in caplog.text

    up = FlakyPublisher(up=True)
    outbox.flush(cast(Publisher, up))
    assert [kind for _, kind, _ in up.sent] == ["needs_human", "session_ok"]
    assert len(outbox) == 0


def test_the_outbox_keeps_only_the_newest_events_past_its_limit() -> None:
    outbox = AgentEventOutbox(limit=2)
    for n in range(3):
        outbox.add("lincoln", f"e{n}", {})
    up = FlakyPublisher(up=True)
    outbox.flush(cast(Publisher, up))
    assert [kind for _, kind, _ in up.sent] == ["e1", "e2"]


# ---------------------------------------------------------------------------- against the real RabbitMQ
@pytest.fixture
def amqp() -> Iterator[tuple[BlockingChannel, Names]]:
    """A channel on the machine's RabbitMQ and a namespace of this test's own, deleted afterwards."""
    from zigral.config import load_settings

    try:
        conn = broker.connect(load_settings())
    except BrokerError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is required in CI: {exc}")
        pytest.skip(f"no RabbitMQ: {exc}")
    names = Names("zb" + uuid.uuid4().hex[:8])
    yield conn.channel(), names
    cleanup = conn.channel() if conn.is_open else None
    if cleanup is not None:
        for agent in registry.names():
            queues = (names.agent_queue(agent), names.retry_queue(agent), names.deferred_queue(agent))
            for queue in (*queues, names.expired_queue(agent)):
                cleanup.queue_delete(queue)
        cleanup.queue_delete(names.dead_letter_queue)
        for exchange in (names.commands_exchange, names.events_exchange, names.dead_letter_exchange):
            cleanup.exchange_delete(exchange)
        conn.close()


def get_one(channel: BlockingChannel, queue: str, timeout: float = 10) -> tuple[Any, Any, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            return method, props, body
        time.sleep(0.05)
    raise AssertionError(f"nothing arrived in {queue} within {timeout}s")


def test_a_command_that_expires_in_its_agents_queue_comes_back_to_the_agent_as_expired(
    amqp: tuple[BlockingChannel, Names],
) -> None:
    channel, names = amqp
    broker.declare_topology(channel, names, registry.names())
    command = Command(agent="shaun", action="echo")
    channel.basic_publish(
        names.commands_exchange,
        "shaun.echo",
        command.encode(),
        pika.BasicProperties(expiration="50", headers={}),
    )
    time.sleep(0.3)
    channel.basic_get(names.agent_queue("shaun"))  # a classic queue drops an expired head when touched
    method, props, body = get_one(channel, names.expired_queue("shaun"))
    assert (
        method.routing_key == names.expired_queue("shaun") and Command.decode(body, 10_000).id == command.id
    )
    death = props.headers["x-death"][0]
    assert death["reason"] == "expired" and death["queue"] == names.agent_queue("shaun")


def test_an_agent_queue_declared_before_expiry_dead_lettering_is_still_served(
    amqp: tuple[BlockingChannel, Names], caplog: pytest.LogCaptureFixture
) -> None:
    channel, names = amqp
    channel.queue_declare(names.agent_queue("lincoln"), durable=True, arguments={"x-max-priority": 3})
    broker.declare_topology(
        channel, names, registry.names()
    )  # no PRECONDITION_FAILED: the older queue is kept
    assert "predates the dead-lettering of expired commands" in caplog.text
    Publisher(channel, names).command(Command(agent="lincoln", action="echo"))
    get_one(channel, names.agent_queue("lincoln"))


def test_a_dlq_replay_gives_an_old_command_a_fresh_life_and_keeps_the_letter_if_it_cannot(
    amqp: tuple[BlockingChannel, Names],
) -> None:
    channel, names = amqp
    broker.declare_topology(channel, names, registry.names())
    publisher = Publisher(channel, names)
    old = Command(id="old-1", agent="lincoln", action="echo", created_at=time.time() - 7200, max_age=60)
    publisher.dead_letter("lincoln", old.encode(), pika.BasicProperties(message_id="old-1"), "failed", "boom")
    time.sleep(0.2)
    reset: list[str] = []

    def refuse(task_id: str) -> None:
        raise BrokerError("Redis said no")

    with pytest.raises(BrokerError):
        broker.replay_dead_letter(channel, names, "old-1", refuse)
    assert [d["id"] for d in broker.dead_letters(channel, names)] == ["old-1"]  # not lost
    assert broker.replay_dead_letter(channel, names, "old-1", reset.append)
    _method, _props, body = get_one(channel, names.agent_queue("lincoln"))
    replayed = Command.decode(body, 10_000)
    assert reset == ["old-1"] and replayed.id == "old-1"
    assert time.time() - replayed.created_at < 60  # fresh: it runs instead of expiring
    assert broker.dead_letters(channel, names) == []


def test_an_event_nobody_listens_to_is_dropped_quietly(
    amqp: tuple[BlockingChannel, Names], caplog: pytest.LogCaptureFixture
) -> None:
    channel, names = amqp
    broker.declare_topology(channel, names, registry.names())
    publisher = Publisher(channel, names)
    for status in ("running", "succeeded"):
        publisher.event(Result(id="quiet", agent="lincoln", action="echo", status=status))
    publisher.agent_event("lincoln", "session_ok", {"vm_id": "vm-1"})
    assert "NO_ROUTE" not in caplog.text and "returned" not in caplog.text
