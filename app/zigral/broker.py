"""RabbitMQ: the topology, a publisher with confirms, and connections. pika's errors become BrokerError.

Queues are classic, durable, with ``x-max-priority``: on RabbitMQ 3.10 (Debian 12) quorum queues have a
delivery limit but no priorities, and priorities must really reorder waiting commands. The delivery limit
is kept outside the message instead: attempts are counted in Redis (see docs/PROTOCOL.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from zigral.config import Settings, url_list
from zigral.constants import (
    HEADER_AGENT,
    HEADER_REASON,
    HEADER_STATUS,
    MAX_PRIORITY,
    Names,
    command_route,
    parse_route,
)
from zigral.errors import BrokerError, Rejected, Unroutable
from zigral.messages import Command, Result

log = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent
# Errors that mean "the connection or channel is gone": reconnect and carry on.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    pika.exceptions.ConnectionWrongStateError,
    pika.exceptions.ChannelWrongStateError,
    OSError,
)


# Per node list: the node a connect tries first. After a connection, the next one: a reconnect (the node
# went away) starts at the following node instead of waiting for the lost one to refuse first.
_first_node: dict[str, int] = {}


def connect(settings: Settings, heartbeat: int | None = None) -> pika.BlockingConnection:
    """A connection to the first node that answers (``rabbitmq.url`` may list a cluster's nodes)."""
    urls = url_list(settings.rabbitmq.url)
    start = _first_node.get(settings.rabbitmq.url, 0)
    failures = []
    for n in range(len(urls)):
        index = (start + n) % len(urls)
        params = pika.URLParameters(urls[index])
        params.heartbeat = heartbeat if heartbeat is not None else settings.rabbitmq.heartbeat
        params.blocked_connection_timeout = 60
        params.connection_attempts = 1
        params.socket_timeout = 5
        params.client_properties = {"connection_name": f"zigral {settings.vm_id}"}
        try:
            conn = pika.BlockingConnection(params)
        except CONNECTION_ERRORS as exc:
            failures.append(f"{params.host}:{params.port}: {type(exc).__name__} {exc}")
            continue
        _first_node[settings.rabbitmq.url] = (index + 1) % len(urls)
        if n:
            log.warning("RabbitMQ: connected to %s:%d (%s)", params.host, params.port, "; ".join(failures))
        return conn
    raise BrokerError("RabbitMQ at " + "; ".join(failures))


def declare_topology(channel: BlockingChannel, names: Names, agents: tuple[str, ...]) -> None:
    """Declare exchanges and ``agents``' queues (idempotent; every agent does it at start and after
    reconnecting, for every agent the VM runs: ``Settings.enabled_agents()``)."""
    channel.exchange_declare(names.commands_exchange, "topic", durable=True)
    channel.exchange_declare(names.events_exchange, "topic", durable=True)
    channel.exchange_declare(names.dead_letter_exchange, "fanout", durable=True)
    channel.queue_declare(names.dead_letter_queue, durable=True)
    channel.queue_bind(names.dead_letter_queue, names.dead_letter_exchange)
    for agent in agents:
        queue = names.agent_queue(agent)
        channel.queue_declare(names.expired_queue(agent), durable=True)
        _declare_agent_queue(channel, names, agent)
        channel.queue_bind(queue, names.commands_exchange, routing_key=f"{agent}.#")
        # A retried or deferred command waits here for its per-message TTL, then goes back to its agent.
        for waiting in (names.retry_queue(agent), names.deferred_queue(agent)):
            channel.queue_declare(
                waiting,
                durable=True,
                arguments={
                    "x-dead-letter-exchange": names.commands_exchange,
                    "x-dead-letter-routing-key": f"{agent}.retry",
                },
            )


def declare_addressed(
    channel: BlockingChannel,
    names: Names,
    agent: str,
    *,
    account: str | None = None,
    vm_id: str | None = None,
    serving: bool = False,
) -> str:
    """Declare the queue of an agent's commands addressed to ``account`` (or to ``vm_id``), bound to the
    commands exchange with ``acct.<agent>.<account>.*`` (``vm.<agent>.<vm_id>.*``); its name.

    A client declares it before it publishes, so that a command for an account no VM serves yet waits in
    it (durable) instead of being unroutable. A VM ``serving`` it also declares its retry and deferred
    queues, which send a command back to the same queue (``...retry``), never to the shared one.
    """
    if (account is None) == (vm_id is None):
        raise ValueError("declare_addressed takes an account or a vm_id")
    if account is not None:
        queue, prefix = names.account_queue(agent, account), command_route(agent, "", account=account)
        waiting = [names.account_queue(agent, account, w) for w in ("retry", "deferred")]
    else:
        assert vm_id is not None
        queue, prefix = names.vm_queue(agent, vm_id), command_route(agent, "", vm_id=vm_id)
        waiting = [names.vm_queue(agent, vm_id, w) for w in ("retry", "deferred")]
    channel.queue_declare(queue, durable=True, arguments=agent_queue_arguments(names, agent))
    channel.queue_bind(queue, names.commands_exchange, routing_key=prefix + "*")
    if serving:
        for name in waiting:
            channel.queue_declare(
                name,
                durable=True,
                arguments={
                    "x-dead-letter-exchange": names.commands_exchange,
                    "x-dead-letter-routing-key": prefix + "retry",
                },
            )
    return queue


def agent_queue_arguments(names: Names, agent: str) -> dict[str, Any]:
    """An agent queue: priorities, and a command that expires in it (AMQP ``expiration``) goes to the
    agent's expired queue, which the agent also consumes, so that it gets a record instead of vanishing."""
    return {
        "x-max-priority": MAX_PRIORITY,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.expired_queue(agent),
    }


def _declare_agent_queue(channel: BlockingChannel, names: Names, agent: str) -> None:
    queue = names.agent_queue(agent)
    # A declare with other arguments than the queue has closes the channel: try on a channel of its own.
    scratch = channel.connection.channel()
    try:
        scratch.queue_declare(queue, durable=True, arguments=agent_queue_arguments(names, agent))
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 406:  # PRECONDITION_FAILED: the queue exists with older arguments
            raise
        log.warning(
            "queue %s predates the dead-lettering of expired commands: a command that expires in it "
            "vanishes without a record until the queue is declared anew (docs/OPERATIONS.md)",
            queue,
        )
        channel.queue_declare(queue, durable=True, passive=True)
        return
    scratch.close()


def _carried(
    props: pika.BasicProperties, headers: Any, expiration: str | None = None
) -> pika.BasicProperties:
    """A command's properties for its retry or dead letter: persistent, same ids, same reply queue."""
    return pika.BasicProperties(
        content_type=props.content_type,
        delivery_mode=PERSISTENT,
        priority=props.priority,
        message_id=props.message_id,
        correlation_id=props.correlation_id,
        reply_to=props.reply_to,
        headers=headers,
        expiration=expiration,
    )


class Publisher:
    """Publishes with publisher confirms and ``mandatory``: a message that reaches no queue is an error.

    Status events may go through ``events``, a channel without confirms: they are in the Redis stream
    already, nothing is lost when one is, and not waiting for their confirm is most of an echo's cost.
    They keep their order among themselves (one channel).
    """

    def __init__(self, channel: BlockingChannel, names: Names, events: BlockingChannel | None = None) -> None:
        self.channel = channel
        self.events_channel = events
        self.names = names
        self._addressed: set[tuple[str, str | None, str | None]] = set()  # queues this channel declared
        channel.confirm_delivery()

    def _publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        props: pika.BasicProperties,
        mandatory: bool = True,
        channel: BlockingChannel | None = None,
    ) -> None:
        try:
            (channel or self.channel).basic_publish(exchange, routing_key, body, props, mandatory=mandatory)
        except pika.exceptions.UnroutableError:
            raise Unroutable(
                f"no queue is bound to {exchange or '(default)'!r} for {routing_key!r}"
            ) from None
        except pika.exceptions.NackError:
            raise BrokerError(f"RabbitMQ refused the message for {routing_key!r}") from None
        except CONNECTION_ERRORS as exc:
            raise BrokerError(f"publish to {routing_key!r}: {type(exc).__name__} {exc}") from None

    def command(self, command: Command, reply_to: str | None = None) -> None:
        props = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=PERSISTENT,
            priority=command.amqp_priority,
            message_id=command.id,
            correlation_id=command.id,
            reply_to=reply_to,
            timestamp=int(command.created_at),  # RabbitMQ reports the queue head's age from it
        )
        account = None if command.vm_id else command.account  # a VM address wins (constants.command_route)
        address = (command.agent, account, command.vm_id)
        if (account or command.vm_id) and address not in self._addressed:
            # Its queue exists before the publish: a command for an account no VM serves waits in it.
            try:
                declare_addressed(
                    self.channel, self.names, command.agent, account=account, vm_id=command.vm_id
                )
            except CONNECTION_ERRORS as exc:
                raise BrokerError(f"declare the queue of {command.routing_key!r}: {exc}") from None
            self._addressed.add(address)
        self._publish(self.names.commands_exchange, command.routing_key, command.encode(), props)

    def retry(
        self,
        agent: str,
        body: bytes,
        props: pika.BasicProperties,
        delay: float,
        deferred: bool = False,
        routing_key: str = "",
    ) -> None:
        """Send a command back after ``delay`` seconds through the agent's retry (or deferred) queue; a
        command addressed to an account or a VM (its ``routing_key`` says so) through that address's own."""
        retry_props = _carried(props, props.headers, expiration=str(max(1, int(delay * 1000))))
        waiting = "deferred" if deferred else "retry"
        route = parse_route(routing_key)
        if route.account is not None:
            queue = self.names.account_queue(agent, route.account, waiting)
        elif route.vm_id is not None:
            queue = self.names.vm_queue(agent, route.vm_id, waiting)
        else:
            queue = self.names.deferred_queue(agent) if deferred else self.names.retry_queue(agent)
        self._publish("", queue, body, retry_props)

    def event(self, event: Result) -> None:
        """Not mandatory: when nobody listens to a status the broker drops it (the Redis stream keeps
        it) without returning it, which pika would log as a warning twice per command."""
        props = pika.BasicProperties(content_type="application/json", delivery_mode=PERSISTENT)
        routing_key = f"task.{event.agent}.{event.status}"
        body = event.encode()
        self._publish(self.names.events_exchange, routing_key, body, props, False, self.events_channel)

    def agent_event(self, agent: str, kind: str, data: dict[str, Any]) -> None:
        """An event about the agent itself (``agent.<agent>.needs_human``, ``agent.<agent>.session_ok``)."""
        props = pika.BasicProperties(content_type="application/json", delivery_mode=PERSISTENT)
        body = json.dumps({"agent": agent, "event": kind, **data}).encode()
        # Not mandatory: nobody may listen right now; the metric and the status page still show it.
        self._publish(self.names.events_exchange, f"agent.{agent}.{kind}", body, props, mandatory=False)

    def reply(self, reply_to: str, correlation_id: str | None, event: Result) -> None:
        props = pika.BasicProperties(
            content_type="application/json", delivery_mode=PERSISTENT, correlation_id=correlation_id
        )
        try:
            self._publish("", reply_to, event.encode(), props)
        except Unroutable:
            pass  # the client's reply queue is gone; the result stays in Redis

    def dead_letter(
        self, agent: str, body: bytes, props: pika.BasicProperties, status: str, reason: str
    ) -> None:
        headers: dict[str, Any] = dict(props.headers or {})
        headers.update({HEADER_REASON: reason[:1000], HEADER_STATUS: status, HEADER_AGENT: agent})
        self._publish(self.names.dead_letter_exchange, agent, body, _carried(props, headers))


def dead_letters(channel: BlockingChannel, names: Names, limit: int = 100) -> list[dict[str, Any]]:
    """Peek at dead letters (get and requeue), oldest first."""
    out: list[dict[str, Any]] = []
    tags = []
    for _ in range(limit):
        method, props, body = channel.basic_get(names.dead_letter_queue, auto_ack=False)
        if method is None:
            break
        tags.append(method.delivery_tag)
        headers = props.headers or {}
        try:
            task_id = json.loads(body).get("id")
        except (ValueError, AttributeError):
            task_id = None
        out.append(
            {
                "id": task_id or props.message_id,
                "agent": headers.get(HEADER_AGENT),
                "status": headers.get(HEADER_STATUS),
                "reason": headers.get(HEADER_REASON),
                "body": body.decode(errors="replace")[:500],
            }
        )
    if tags:
        channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    return out


def replay_dead_letter(
    channel: BlockingChannel,
    names: Names,
    task_id: str,
    reset: Callable[[str], None],
    limit: int = 10_000,
    keep_created_at: bool = False,
) -> bool:
    """Send the dead letter of ``task_id`` back to its agent (its record reset first, so it runs again).

    The command starts a fresh life: a new ``created_at`` (unless ``keep_created_at``), so that a letter
    older than its max age runs instead of expiring. The letter is acked only once the broker confirmed
    the replayed command: a failure leaves it in the dead-letter queue.
    """
    found = False
    try:
        for _ in range(limit):
            method, props, body = channel.basic_get(names.dead_letter_queue, auto_ack=False)
            if method is None:
                break
            try:
                command = Command.decode(body, max_bytes=len(body) + 1)
            except Rejected:
                command = None
            if command is None or command.id != task_id:
                continue  # left unacked; requeued below
            if not keep_created_at:
                command = command.model_copy(update={"created_at": time.time()})
            reset(task_id)
            Publisher(channel, names).command(command, reply_to=props.reply_to)
            channel.basic_ack(method.delivery_tag)  # only now: the broker confirmed the replayed command
            found = True
            break
    finally:
        if channel.is_open:  # every other letter looked at (or this one, on a failure) goes back
            channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    return found


class AgentEventOutbox:
    """Agent events (``needs_human``...) kept until RabbitMQ takes them, and sent in order.

    A canary may notice a signed-out site just as the connection drops; the event waits here and goes out
    after the reconnect instead of being lost. Bounded: past ``limit`` the oldest are dropped (the metric
    and the Redis hold still say the latest state).
    """

    def __init__(self, limit: int = 16) -> None:
        self._pending: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=limit)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, agent: str, kind: str, data: dict[str, Any]) -> None:
        self._pending.append((agent, kind, data))

    def flush(self, publisher: Publisher | None) -> None:
        """Publish what waits, oldest first; stop at the first failure and keep the rest."""
        while self._pending and publisher is not None:
            agent, kind, data = self._pending[0]
            try:
                publisher.agent_event(agent, kind, data)
            except BrokerError as exc:
                log.warning("agent event %s not sent yet (%s); it goes out after the reconnect", kind, exc)
                return
            self._pending.popleft()
