"""The one place a decision is carried out: store, then publish, then ack, in that order.

A message is acked only after what it came to is stored in Redis and published (a retry or a dead letter
confirmed by the broker). If the broker goes away before the ack, the message comes back and finds its
stored result. Redis outages are waited out (:class:`Redis`); Redis refusing a task's keys is not: the
message is dead-lettered with the reason instead of wedging the agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from zigral.constants import DEFERRED, QUEUED
from zigral.errors import BrokerError, StateError, StateUnavailable
from zigral.messages import Command, Result
from zigral.runtime.decisions import (
    DeadLetter,
    Decision,
    Defer,
    Finish,
    Job,
    Message,
    Reject,
    Republish,
    Requeue,
    Retry,
)
from zigral.runtime.transport import Transport
from zigral.state import TaskStore

log = logging.getLogger(__name__)
T = TypeVar("T")


def safe_text(text: str, limit: int = 2000) -> str:
    """Text that can go anywhere (Redis, AMQP headers, logs): UTF-8-encodable and bounded."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


class Redis:
    """Calls to the task store that wait out an outage (``pause`` keeps the AMQP connection serviced)."""

    def __init__(
        self,
        pause: Callable[[float], None] = time.sleep,
        giving_up: Callable[[], bool] = lambda: False,
    ) -> None:
        self.pause = pause
        self.giving_up = giving_up

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = 0.5
        while True:
            try:
                return fn(*args, **kwargs)
            except StateUnavailable as exc:
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                if self.giving_up():
                    raise
                self.pause(delay)
                delay = min(5.0, delay * 2)


class Settler:
    """Carries out decisions for one agent."""

    def __init__(
        self, agent: str, vm_id: str, store: TaskStore, transport: Transport, redis: Redis, owner: str = ""
    ) -> None:
        self.agent = agent
        self.owner = owner  # whose run locks this settler releases with the final write
        self.vm_id = vm_id
        self.store = store
        self.transport = transport
        self.redis = redis

    def settle(self, job: Job, decision: Decision) -> Decision:
        """Store, publish, ack. Returns the decision carried out (a DeadLetter if Redis refused)."""
        try:
            self._settle(job, decision)
        except StateError as exc:
            if isinstance(exc, StateUnavailable):
                raise
            decision = DeadLetter("failed", f"Redis refused to record it: {exc}")
            log.error("task %s: %s", job.task_id or job.fingerprint, decision.reason)
            self._settle(job, decision)
        return decision

    def _settle(self, job: Job, decision: Decision) -> None:
        msg, command = job.message, job.command
        if isinstance(decision, Requeue):
            self.transport.requeue(msg)
            return
        if isinstance(decision, DeadLetter):
            self.transport.dead_letter(self.agent, msg, decision.status, safe_text(decision.reason))
        elif isinstance(decision, Reject):
            reason = safe_text(decision.reason)
            event, _stored = self.redis(
                self.store.record_invalid, decision.task_id, self.agent, reason, self.vm_id
            )
            self._tell(msg, event)
            self.transport.dead_letter(self.agent, msg, event.status, reason)
        elif isinstance(decision, Republish):
            log.info(
                "task %s already %s; re-publishing its result", decision.stored.id, decision.stored.status
            )
            self._tell(msg, decision.stored)
        else:
            assert command is not None, decision
            self._settle_command(job, command, decision)
        self.transport.ack(msg)

    def _settle_command(self, job: Job, command: Command, decision: Finish | Retry | Defer) -> None:
        msg = job.message
        if isinstance(decision, Finish):
            error = safe_text(decision.error) if decision.error is not None else None
            captures = list(decision.captures)
            event = self._record(job, decision.status, result=decision.result, error=error, captures=captures)
            self._tell(msg, event)
            if decision.dead_letter:
                self.transport.dead_letter(self.agent, msg, decision.status, error or "")
            note = f": {error}" if error else ""
            log.info("task %s %s %s%s", command.id, command.action, decision.status, note)
        elif isinstance(decision, Retry):
            if decision.note is not None:
                log.warning("task %s %s", command.id, decision.note)
                note = safe_text(decision.note)
                self.best_effort(self._record(job, QUEUED, error=note, captures=list(decision.captures)))
            self.transport.retry(self.agent, msg, decision.delay)
        else:
            log.info("task %s %s", command.id, decision.note)
            self.best_effort(self._record(job, DEFERRED, error=safe_text(decision.note)))
            self.transport.retry(self.agent, msg, decision.delay, deferred=True)

    def _record(self, job: Job, status: str, **fields: Any) -> Result:
        """The job's status change, its run lock released in the same round trip."""
        assert job.command is not None
        release = self.owner if job.locked and self.owner else None
        event = self.transition(job.command, status, attempt=job.attempt or None, release=release, **fields)
        if release is not None:
            job.locked = False
        return event

    def transition(self, command: Command, status: str, **fields: Any) -> Result:
        return self.redis(self.store.transition, command, status, self.vm_id, **fields)

    def _tell(self, msg: Message, event: Result) -> None:
        """The event, and the reply if the client asked for one."""
        self.transport.event(event)
        if msg.props.reply_to:
            self.transport.reply(msg.props.reply_to, msg.props.correlation_id or event.id, event)

    def best_effort(
        self, event: Result, reply_to: str | None = None, correlation_id: str | None = None
    ) -> None:
        """An event on the way (running, queued...): stored already, so a broker drop here loses nothing
        and must not cost the command an attempt; the final event is the one that counts."""
        try:
            self.transport.event(event)
            if reply_to:
                self.transport.reply(reply_to, correlation_id or event.id, event)
        except BrokerError as exc:
            log.warning("event %s of task %s not published: %s", event.status, event.id, exc)
