from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
import pytest

from zigral.broker import Publisher
from zigral.constants import Names
from zigral.errors import BrokerError
from zigral.messages import Result
from zigral.runtime.decisions import Message
from zigral.runtime.transport import PikaTransport


class Channel:
    """A pika channel that records what it is asked, or fails like a dropped connection."""

    def __init__(self, is_open: bool = True, fail: bool = False) -> None:
        self.is_open = is_open
        self.fail = fail
        self.calls: list[tuple[Any, ...]] = []

    def confirm_delivery(self) -> None:
        pass

    def _do(self, *call: Any) -> None:
        if self.fail:
            raise pika.exceptions.StreamLostError("connection reset")
        self.calls.append(call)

    def basic_ack(self, tag: int) -> None:
        self._do("ack", tag)

    def basic_nack(self, tag: int, requeue: bool) -> None:
        self._do("nack", tag, requeue)

    def basic_publish(self, exchange: str, key: str, body: bytes, props: Any, mandatory: bool) -> None:
        self._do("publish", exchange, key)


def delivery(channel: Channel, routing_key: str = "lincoln.echo") -> Message:
    return Message(b"{}", routing_key, pika.BasicProperties(), handle=(channel, 7))


def test_a_delivery_is_acked_or_given_back_on_the_channel_that_delivered_it() -> None:
    channel = Channel()
    transport = PikaTransport(lambda: None)
    transport.ack(delivery(channel))
    transport.requeue(delivery(channel))
    assert channel.calls == [("ack", 7), ("nack", 7, True)]


def test_a_stale_tag_from_a_closed_channel_is_never_acked() -> None:
    closed = Channel(is_open=False)
    PikaTransport(lambda: None).ack(delivery(closed))
    PikaTransport(lambda: None).requeue(delivery(closed))
    assert closed.calls == []


def test_a_lost_connection_is_a_broker_error_and_so_is_publishing_unconnected() -> None:
    transport = PikaTransport(lambda: None)
    with pytest.raises(BrokerError):
        transport.ack(delivery(Channel(fail=True)))
    with pytest.raises(BrokerError):
        transport.requeue(delivery(Channel(fail=True)))
    with pytest.raises(BrokerError, match="not connected"):
        transport.event(Result(id="x", agent="lincoln", action="echo", status="running"))


def test_publishes_go_through_the_current_publisher() -> None:
    channel = Channel()
    transport = PikaTransport(lambda: Publisher(channel, Names("zt")))  # type: ignore[arg-type]
    event = Result(id="x", agent="lincoln", action="echo", status="succeeded")
    transport.event(event)
    transport.reply("amq.gen-1", "c-1", event)
    transport.retry("lincoln", delivery(channel), 1.5)
    transport.dead_letter("lincoln", delivery(channel), "failed", "boom")
    assert [c[1:] for c in channel.calls] == [
        ("zt.events", "task.lincoln.succeeded"),
        ("", "amq.gen-1"),
        ("", "zt.lincoln.retry"),
        ("zt.dlx", "lincoln"),
    ]
