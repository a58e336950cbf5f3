"""An in-memory broker for the command path: what a test publishes, and what the path acked and sent.

Like dramatiq's ``StubBroker``: the whole path, every branch, without RabbitMQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pika

from zigral.errors import BrokerError
from zigral.messages import Result
from zigral.runtime.decisions import Message


@dataclass
class Letter:
    agent: str
    body: bytes
    status: str
    reason: str


@dataclass
class MemoryTransport:
    """Records acks, requeues and publishes; ``down`` makes every call fail like a dropped connection."""

    acked: list[Message] = field(default_factory=list)
    requeued: list[Message] = field(default_factory=list)
    events: list[Result] = field(default_factory=list)
    replies: list[tuple[str, str | None, Result]] = field(default_factory=list)
    retried: list[tuple[str, Message, float, bool]] = field(default_factory=list)
    dead: list[Letter] = field(default_factory=list)
    down: bool = False

    def _up(self, what: str) -> None:
        if self.down:
            raise BrokerError(f"{what}: StreamLostError (the in-memory broker is down)")

    def ack(self, message: Message) -> None:
        self._up("ack")
        self.acked.append(message)

    def requeue(self, message: Message) -> None:
        self._up("nack")
        self.requeued.append(message)

    def event(self, event: Result) -> None:
        self._up("publish event")
        self.events.append(event)

    def reply(self, reply_to: str, correlation_id: str | None, event: Result) -> None:
        self._up("publish reply")
        self.replies.append((reply_to, correlation_id, event))

    def retry(self, agent: str, message: Message, delay: float, deferred: bool = False) -> None:
        self._up("publish retry")
        self.retried.append((agent, message, delay, deferred))

    def dead_letter(self, agent: str, message: Message, status: str, reason: str) -> None:
        self._up("publish dead letter")
        self.dead.append(Letter(agent, message.body, status, reason))

    def settled(self) -> int:
        """Messages acked or given back so far."""
        return len(self.acked) + len(self.requeued)


def message(
    body: bytes | dict[str, Any],
    routing_key: str | None = None,
    redelivered: bool = False,
    headers: dict[str, Any] | None = None,
    **props: Any,
) -> Message:
    """A delivery as RabbitMQ would hand it over; a dict body is JSON-encoded and routed by its fields."""
    if isinstance(body, dict):
        if routing_key is None:
            routing_key = f"{body.get('agent')}.{body.get('action')}"
        body = json.dumps(body).encode()
    return Message(
        body,
        routing_key or "unknown.echo",  # raw bytes with no key: a key no agent's body can match
        pika.BasicProperties(headers=headers, **props),
        redelivered=redelivered,
    )


def back_from(queue: str) -> dict[str, Any]:
    """The headers RabbitMQ adds to a command coming back from a waiting queue (``x-death``, newest first)."""
    return {"x-death": [{"reason": "expired", "queue": queue, "count": 1, "exchange": ""}]}
