"""The command path as small decision steps: each returns None (go on) or a decision.

crash guard -> decode -> resolve (action, params) -> expiry -> claim (dedupe, lock, and for an action
without a quota the attempt and ``running``, one Redis call) -> quota -> attempt -> execute -> outcome,
then one ``Settler.settle`` and the hooks. Nothing a message holds can raise out of :meth:`Pipeline.handle`
except a lost broker (BrokerError: the worker reconnects and the message comes back) or a Redis outage
past shutdown.
"""

from __future__ import annotations

import datetime
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from zigral.agents.base import Agent
from zigral.config import RuntimeSettings
from zigral.constants import (
    EXPIRED,
    FAILED,
    NEEDS_HUMAN,
    REJECTED,
    RESUMABLE,
    RUNNING,
    TIMED_OUT,
    parse_route,
)
from zigral.deadline import Deadline
from zigral.errors import (
    BrokerError,
    OverQuota,
    Rejected,
    StateError,
    StateUnavailable,
)
from zigral.logs import current_task
from zigral.messages import Command, fingerprint, parse_body, peek_id, valid_id
from zigral.quotas import QuotaFull, QuotaGate
from zigral.runtime.claim import claim
from zigral.runtime.decisions import (
    DeadLetter,
    Decision,
    Defer,
    Finish,
    Job,
    Message,
    Outcome,
    Reject,
    Republish,
    Requeue,
    Retry,
)
from zigral.runtime.execute import Executor, run_inline
from zigral.runtime.hooks import Hook
from zigral.runtime.settle import Redis, Settler
from zigral.runtime.transport import Transport
from zigral.state import TaskStore

log = logging.getLogger(__name__)

HARD_GRACE = 15.0  # seconds past a deadline before the worker gives up on a stuck browser thread
BUSY_RETRY_DELAY = 2.0  # another live worker holds the same task id: look again after this
DELIVERY_TTL = 86400  # seconds a crash count or a generated id outlives a delivery that never settled


class Pipeline:
    """One agent's command path."""

    def __init__(
        self,
        rt: RuntimeSettings,
        agent: Agent,
        store: TaskStore,
        transport: Transport,
        *,
        vm_id: str,
        owner: str,
        account: str | None = None,
        quotas: QuotaGate | None = None,
        executor: Executor = run_inline,
        hooks: Sequence[Hook] = (),
        redis: Redis | None = None,
    ) -> None:
        self.rt = rt
        self.agent = agent
        self.store = store
        self.transport = transport
        self.vm_id = vm_id
        self.owner = owner
        self.account = account  # the account this VM's browser serves for the agent (None: not checked)
        self.quotas = quotas
        self.executor = executor
        self.hooks = list(hooks)
        self.redis = redis or Redis()
        self.settler = Settler(agent.name, vm_id, store, transport, self.redis, owner)
        self.steps: list[Callable[[Job], Decision | None]] = [
            self.crash_guard,
            self.decode,
            self.resolve,
            self.expiry,
            self.claim,
            self.quota,
            self.count_attempt,
            self.execute,
            self.outcome,
        ]

    # ------------------------------------------------------------------ the path
    def handle(self, message: Message) -> Decision:
        """Take one delivery through the steps and settle it once."""
        job = Job(message, fingerprint(message.body))
        token = current_task.set(None)
        try:
            decision = self.settler.settle(job, self.decide(job))
        except Exception:  # a lost broker or Redis: the process lives on, so this was no crash
            self._cleanup(job)
            raise
        finally:
            current_task.reset(token)
        # Not in a finally: a delivery that kills the process must leave its crash count behind.
        self._cleanup(job)
        for hook in self.hooks:
            hook.after_settle(job, decision)
        return decision

    def decide(self, job: Job) -> Decision:
        for step in self.steps:
            try:
                decision = step(job)
            except (BrokerError, StateUnavailable):
                raise
            except StateError as exc:
                return DeadLetter(FAILED, f"Redis refused an operation for it: {exc}")
            except Exception as exc:  # a bug in a step must not kill the agent or wedge its queue
                log.exception("step %s failed", step.__name__)
                return DeadLetter(FAILED, f"internal error in {step.__name__}: {type(exc).__name__}: {exc}")
            if decision is not None:
                return decision
        raise AssertionError("the outcome step always decides")  # pragma: no cover

    def _cleanup(self, job: Job) -> None:
        try:
            if job.locked and job.command is not None:
                self.redis(self.store.release, job.command.id, self.owner)
            if job.tracked:
                self.redis(self.store.forget_delivery, job.fingerprint)
        except StateError as exc:  # the lock and the count expire by themselves
            log.warning("could not clean up after %s: %s", job.task_id or job.fingerprint, exc)

    # ------------------------------------------------------------------ steps
    def crash_guard(self, job: Job) -> Decision | None:
        """A redelivered body was being handled when its worker died: count it by its fingerprint (an id
        may be missing or unreadable), and dead-letter it once it has stopped the agent max_attempts times.
        If reading it once more stops the agent again, it is dead-lettered without being read."""
        if not job.message.redelivered:
            return None
        job.tracked = True
        crashes = self.redis(self.store.count_crash, job.fingerprint, DELIVERY_TTL)
        if crashes < self.rt.max_attempts:
            return None
        reason = f"the agent stopped {crashes} times while handling this message"
        if crashes == self.rt.max_attempts:
            try:
                job.command = self._read(job)
                error = f"gave up after {crashes} attempts: {reason}"
                return Finish(FAILED, error=error, dead_letter=True)
            except Exception:  # unreadable: nothing to record it under
                pass
        return DeadLetter(FAILED, reason)

    def _read(self, job: Job) -> Command:
        """The body as a command; a body without an id gets one that its redeliveries share."""
        data = parse_body(job.message.body, self.rt.max_body_bytes)
        if "id" not in data:
            job.tracked = True
            fresh = uuid.uuid4().hex
            data["id"] = self.redis(self.store.auto_id, job.fingerprint, fresh, DELIVERY_TTL)
        return Command.validate_data(data)

    def decode(self, job: Job) -> Decision | None:
        """The body as a strictly valid command for this agent, routed as it says; else rejected."""
        try:
            command = self._read(job)
            if command.agent != self.agent.name:
                raise Rejected(f"command for agent {command.agent!r} arrived on {self.agent.name}'s queue")
            self._check_route(job, command)
        except Rejected as exc:
            return Reject(str(exc), self._id_for_rejection(job))
        job.command = command
        current_task.set(command.id)
        return None

    def _check_route(self, job: Job, command: Command) -> None:
        route = parse_route(job.message.routing_key)
        if (
            route.agent == command.agent
            and (route.verb == command.action or (route.verb == "retry" and self._came_back(job)))
            and route.vm_id == command.vm_id
            and route.account == (None if command.vm_id else command.account)
        ):
            self._check_address(command)
            return
        expired_queue = self.store.names.expired_queue(self.agent.name)
        if job.message.routing_key == expired_queue and self._expired_in_broker(job):
            job.broker_expired = True
            return
        raise Rejected(
            f"routing key {job.message.routing_key!r} does not match the command's "
            f"{command.agent}.{command.action}"
        )

    def _check_address(self, command: Command) -> None:
        """Only a VM serving a command's account runs it, whichever queue it came through."""
        if command.vm_id is not None and command.vm_id != self.vm_id:
            raise Rejected(f"command for VM {command.vm_id!r} arrived on VM {self.vm_id!r}")
        if command.account is not None and self.account is not None and command.account != self.account:
            raise Rejected(
                f"command for account {command.account!r} arrived at {self.agent.name} on VM {self.vm_id!r}, "
                f"which serves account {self.account!r}"
            )

    def _came_back(self, job: Job) -> bool:
        """A ``retry`` routing key is the broker's, for a command coming back from one of this agent's
        waiting queues (``.retry``, ``.deferred``): not a way around the routing key check for a client."""
        reason, queue = _last_death(job)
        names, agent = self.store.names, self.agent.name
        shared = (names.retry_queue(agent), names.deferred_queue(agent))
        addressed = tuple(
            f"{self._queue}.{kind}-{w}." for kind in ("acct", "vm") for w in ("retry", "deferred")
        )
        waiting = isinstance(queue, str) and (queue in shared or queue.startswith(addressed))
        return reason in ("expired", b"expired") and waiting

    def _expired_in_broker(self, job: Job) -> bool:
        reason, queue = _last_death(job)
        # The agent's shared queue, or one of its account or VM queues (they dead-letter to the same place).
        addressed = (self._queue + ".acct.", self._queue + ".vm.")
        ours = isinstance(queue, str) and (queue == self._queue or queue.startswith(addressed))
        return bool(reason in ("expired", b"expired") and ours)

    @property
    def _queue(self) -> str:
        return self.store.names.agent_queue(self.agent.name)

    def _id_for_rejection(self, job: Job) -> str:
        return (
            peek_id(job.message.body, self.rt.max_body_bytes)
            or valid_id(job.message.props.message_id)
            or f"invalid-{job.fingerprint[:16]}"
        )

    def expiry(self, job: Job) -> Decision | None:
        """Too old to run: ``expired``, unless the id is done already (its result is published again)."""
        command = job.command
        assert command is not None
        max_age = command.max_age or self.rt.default_max_age
        age = time.time() - command.created_at
        if job.broker_expired or age > max_age:
            stored = self.redis(self.store.stored_result, command.id)
            if stored is not None:
                return Republish(stored)
            if job.broker_expired:
                return Finish(EXPIRED, error="expired in the broker (the message's AMQP expiration passed)")
            return Finish(EXPIRED, error=f"arrived {age:.0f}s after creation, max age {max_age:.0f}s")
        if -age > max_age:
            return Reject(f"created_at lies {-age:.0f}s in the future, more than its max age", command.id)
        return None

    def resolve(self, job: Job) -> Decision | None:
        """The agent's action and its params: an unknown action or bad params is an invalid message."""
        assert job.command is not None
        try:
            job.action = self.agent.action(job.command.action)
            job.params = job.action.parse(job.command.params)
        except Rejected as exc:
            return Reject(str(exc), job.command.id)
        return None

    def claim(self, job: Job) -> Decision | None:
        """Done already (republished), held by a live worker (looked at later), or ours: locked, and for
        an action without a quota also counted and ``running``, in one round trip (runtime/claim.py)."""
        command, action = job.command, job.action
        assert command is not None and action is not None
        ttl = self.timeout(command) + HARD_GRACE + 30
        begin = action.quota is None or self.quotas is None
        args = (self.store, command, self.owner, ttl, self.vm_id, self.rt.max_attempts, begin)
        found = self.redis(claim, *args)
        if found.kind == "done":
            stored = self.redis(self.store.stored_result, command.id)
            return Republish(stored) if stored is not None else Retry(BUSY_RETRY_DELAY)
        if found.kind == "held":
            if self.redis(self.store.is_alive, found.holder):
                log.info("task %s is being worked on by %s; looking again later", command.id, found.holder)
                return Retry(BUSY_RETRY_DELAY)
            log.warning("task %s was held by %s, which is gone; taking it over", command.id, found.holder)
            self.redis(self.store.take_over, command.id, self.owner, ttl)
            found = self.redis(claim, *args)
        job.locked = True
        job.claim = found
        if found.kind == "over":
            return self._gave_up(found.attempt, found.error)
        return None

    def quota(self, job: Job) -> Decision | None:
        """Over quota: not run and not lost. Back when the window reopens, or rejected if that is too late."""
        command, action = job.command, job.action
        assert command is not None and action is not None
        if action.quota is None or self.quotas is None:
            return None
        full = self.redis(self.quotas.take, action.quota)
        if full is None:
            job.quota_taken = True
            return None
        return self.over_quota(command, full)

    def over_quota(self, command: Command, full: QuotaFull) -> Decision:
        """Deferred until the window reopens, or rejected when that is past the command's max age."""
        assert self.quotas is not None
        when = datetime.datetime.fromtimestamp(full.reopens_at, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        what = f"quota {full.quota!r} of account {self.quotas.account!r} is used up for this {full.window}"
        cutoff = command.created_at + (command.max_age or self.rt.default_max_age)
        if full.reopens_at > cutoff:
            return Finish(
                REJECTED, error=f"{what}; it reopens at {when}, after the command's max age", dead_letter=True
            )
        delay = max(1.0, full.reopens_at - time.time()) + random.uniform(0, 30)
        return Defer(delay, f"{what}; deferred until {when}")

    def count_attempt(self, job: Job) -> Decision | None:
        """The attempt is counted (by the claim, or here after a quota was taken); past max, it fails."""
        command = job.command
        assert command is not None
        if job.claim is not None and job.claim.kind == "run":
            job.attempt = job.claim.attempt
            return None
        job.attempt = self.redis(self.store.begin_attempt, command)
        if job.attempt <= self.rt.max_attempts:
            return None
        record = self.redis(self.store.get, command.id) or {}
        return self._gave_up(job.attempt, record.get("error") or "")

    def _gave_up(self, attempt: int, last: str) -> Decision:
        last = last or "the agent died while running it"
        reason = f"gave up after {attempt - 1} attempts (max {self.rt.max_attempts}): {last}"
        return Finish(FAILED, error=reason, dead_letter=True)

    def execute(self, job: Job) -> Decision | None:
        command = job.command
        assert command is not None and job.action is not None
        if job.claim is not None and job.claim.event is not None:  # recorded running by the claim
            event, memo = job.claim.event, job.claim.memo
        else:
            event = self.settler.transition(command, RUNNING, attempt=job.attempt)
            memo = (self.redis(self.store.get, command.id) or {}).get("memo", {})
        self.settler.best_effort(event)
        for hook in self.hooks:
            hook.before_execute(job)
        outcome: Outcome | None = None
        job.memo = memo
        try:
            outcome = self.executor(job, Deadline(self.timeout(command)), memo)
        finally:
            for hook in self.hooks:
                hook.after_execute(job, outcome)
        job.outcome = outcome
        return Requeue() if outcome is None else None

    def outcome(self, job: Job) -> Decision:
        outcome = job.outcome
        assert outcome is not None
        exc, command = outcome.exc, job.command
        if isinstance(exc, OverQuota) and command is not None and self.quotas is not None:  # take_quota
            self.redis(self.store.give_back_attempt, command.id)  # waiting for a window is no failed try
            return self.over_quota(command, QuotaFull(exc.quota, exc.window, exc.reopens_at))
        # A timeout in the middle of resumable work (a frozen browser mid-write) is repaired by a retry.
        interrupted = outcome.status == TIMED_OUT and bool(job.memo.get(RESUMABLE))
        if (outcome.retryable or interrupted) and job.attempt < self.rt.max_attempts:
            base = min(self.rt.retry_max_delay, self.rt.retry_base_delay * 2 ** (job.attempt - 1))
            delay = base * random.uniform(0.5, 1.5)
            note = f"attempt {job.attempt} failed: {outcome.error}; retrying in {delay:.1f}s"
            return Retry(delay, note, tuple(outcome.captures))
        captures = tuple(outcome.captures)
        if outcome.retryable or interrupted:
            error = f"gave up after {job.attempt} attempts: {outcome.error}"
            return Finish(FAILED, error=error, captures=captures, dead_letter=True)
        return Finish(
            outcome.status,
            error=outcome.error,
            result=outcome.result,
            captures=captures,
            dead_letter=outcome.status in (FAILED, REJECTED),
        )

    # ------------------------------------------------------------------ helpers
    def timeout(self, command: Command) -> float:
        return min(command.timeout or self.rt.default_timeout, self.rt.max_timeout)

    def report(self, job: Job, status: str, note: str | None) -> None:
        """A status change the action reported mid-way (needs_human, then running again): stored and
        published on the main thread; ``needs_human`` also goes to the client's reply queue."""
        assert job.command is not None
        event = self.settler.transition(job.command, status, error=note)
        props = job.message.props
        reply_to = props.reply_to if status == NEEDS_HUMAN else None
        self.settler.best_effort(event, reply_to, props.correlation_id)

    def give_back(self, message: Message) -> None:
        """A delivery the worker took but never started: back to the queue."""
        self.transport.requeue(message)


def _last_death(job: Job) -> tuple[Any, Any]:
    """The reason and queue of the message's last dead-lettering (RabbitMQ's ``x-death``, newest first)."""
    deaths = (job.message.props.headers or {}).get("x-death") or []
    last = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    reason, queue = last.get("reason"), last.get("queue")
    if isinstance(queue, bytes):
        queue = queue.decode(errors="replace")
    return reason, queue
