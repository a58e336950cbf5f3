"""The broker as the command path sees it: ack or give back a delivery, publish what it decided.

:class:`PikaTransport` is RabbitMQ (through ``broker.Publisher``); ``memory.MemoryTransport`` is its
in-memory twin for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from zigral import broker
from zigral.errors import BrokerError
from zigral.messages import Result
from zigral.runtime.decisions import Message


class Transport(Protocol):
    def ack(self, message: Message) -> None: ...

    def requeue(self, message: Message) -> None: ...

    def event(self, event: Result) -> None: ...

    def reply(self, reply_to: str, correlation_id: str | None, event: Result) -> None: ...

    def retry(self, agent: str, message: Message, delay: float, deferred: bool = False) -> None: ...

    def dead_letter(self, agent: str, message: Message, status: str, reason: str) -> None: ...


class PikaTransport:
    """Acks on the channel that delivered; publishes through the worker's current publisher."""

    def __init__(self, publisher: Callable[[], broker.Publisher | None]) -> None:
        self._publisher = publisher

    @property
    def publisher(self) -> broker.Publisher:
        publisher = self._publisher()
        if publisher is None:
            raise BrokerError("not connected to RabbitMQ")
        return publisher

    def ack(self, message: Message) -> None:
        # A tag from a closed channel is stale after a reconnect (the broker redelivers that message
        # anyway): acking it would ack some other message, so it is skipped.
        channel = message.handle[0]
        if channel.is_open:
            try:
                channel.basic_ack(message.handle[1])
            except broker.CONNECTION_ERRORS as exc:
                raise BrokerError(f"ack: {type(exc).__name__} {exc}") from None

    def requeue(self, message: Message) -> None:
        channel = message.handle[0]
        if channel.is_open:
            try:
                channel.basic_nack(message.handle[1], requeue=True)
            except broker.CONNECTION_ERRORS as exc:
                raise BrokerError(f"nack: {type(exc).__name__} {exc}") from None

    def event(self, event: Result) -> None:
        self.publisher.event(event)

    def reply(self, reply_to: str, correlation_id: str | None, event: Result) -> None:
        self.publisher.reply(reply_to, correlation_id, event)

    def retry(self, agent: str, message: Message, delay: float, deferred: bool = False) -> None:
        self.publisher.retry(
            agent, message.body, message.props, delay, deferred=deferred, routing_key=message.routing_key
        )

    def dead_letter(self, agent: str, message: Message, status: str, reason: str) -> None:
        self.publisher.dead_letter(agent, message.body, message.props, status, reason)
