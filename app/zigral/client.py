"""A small client: publish commands (confirmed, mandatory) and wait for their results on ``reply_to``."""

from __future__ import annotations

import time
from typing import Any

import pika

from zigral import broker
from zigral.config import Settings
from zigral.constants import TERMINAL, Names
from zigral.errors import BrokerError
from zigral.messages import Command, Result


class Client:
    """One connection to RabbitMQ for submitting commands. Use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.names = Names(settings.runtime.namespace)
        self.connection = broker.connect(settings)
        self.channel = self.connection.channel()
        broker.declare_topology(self.channel, self.names, settings.enabled_agents())
        self.publisher = broker.Publisher(self.channel, self.names)
        self._reply_queue: str | None = None
        self._results: dict[str, Result] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.connection.is_open:
            try:
                self.connection.close()
            except broker.CONNECTION_ERRORS:
                pass

    def _replies(self) -> str:
        if self._reply_queue is None:
            declared = self.channel.queue_declare("", exclusive=True, auto_delete=True)
            self._reply_queue = str(declared.method.queue)
            self.channel.basic_consume(self._reply_queue, self._on_reply, auto_ack=True)
        return self._reply_queue

    def _on_reply(self, _ch: Any, _method: Any, props: pika.BasicProperties, body: bytes) -> None:
        result = Result.decode(body)
        if result.status in TERMINAL:  # needs_human also arrives here; the final result follows it
            self._results[props.correlation_id or result.id] = result

    def submit(self, command: Command, want_reply: bool = False) -> str:
        """Publish ``command``; raises Unroutable if no queue takes it. Returns the task id."""
        self.publisher.command(command, reply_to=self._replies() if want_reply else None)
        return command.id

    def wait(self, task_id: str, timeout: float) -> Result:
        """Wait for the final result of a command submitted with ``want_reply``."""
        deadline = time.monotonic() + timeout
        while task_id not in self._results:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerError(f"no result for task {task_id} within {timeout:.0f}s")
            self.connection.process_data_events(time_limit=min(left, 0.5))
        return self._results.pop(task_id)

    def call(self, command: Command, timeout: float = 120.0) -> Result:
        return self.wait(self.submit(command, want_reply=True), timeout)
