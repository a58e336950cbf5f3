"""The worker: one agent's path from a RabbitMQ delivery to a stored, published and acked result.

Threads: the main thread owns the AMQP connection and keeps servicing it (heartbeats never starve)
while the browser thread runs the command. A command is acked only after its result is in Redis and
published; a redelivered id whose result exists is re-published, not executed again.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel
from prometheus_client import CollectorRegistry, start_http_server

from zigral import broker, captures
from zigral.actions import ActionContext, NoParams
from zigral.agents.base import Agent
from zigral.browser import BrowserSession, BrowserThread
from zigral.config import Settings
from zigral.constants import (
    DEFERRED,
    EXPIRED,
    FAILED,
    NEEDS_HUMAN,
    QUEUED,
    REJECTED,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    Names,
)
from zigral.deadline import Deadline
from zigral.errors import (
    BrokerError,
    DeadlineExceeded,
    Rejected,
    Retryable,
    StateError,
    TaskError,
    first_line,
)
from zigral.holds import RECYCLE, CanarySchedule, Holds
from zigral.logs import current_task
from zigral.messages import Command, peek_id
from zigral.metrics import AgentMetrics
from zigral.quotas import QuotaFull, QuotaGate
from zigral.state import TaskStore
from zigral.urlpolicy import UrlPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

RECONNECT_ERRORS: tuple[type[BaseException], ...] = (BrokerError, *broker.CONNECTION_ERRORS)
HARD_GRACE = 15.0  # seconds past a deadline before the worker gives up on a stuck browser thread
BUSY_RETRY_DELAY = 2.0  # another live worker holds the same task id: look again after this


@dataclass
class Delivery:
    channel: BlockingChannel
    tag: int
    props: pika.BasicProperties
    body: bytes
    redelivered: bool


@dataclass
class Outcome:
    status: str
    result: Any = None
    error: str | None = None
    retryable: bool = False
    captures: list[str] = field(default_factory=list)


class Worker:
    """Runs one agent until :meth:`request_stop` (SIGTERM)."""

    def __init__(self, settings: Settings, agent: Agent, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.rt = settings.runtime
        self.agent = agent
        self.names = Names(self.rt.namespace)
        self.store = TaskStore.from_settings(settings)
        self.metrics = AgentMetrics(agent.name, registry or CollectorRegistry())
        self.policy = UrlPolicy.from_settings(settings, agent.name)
        self.capture_store = captures.CaptureStore(settings.captures.dir, agent.name)
        self.quotas = QuotaGate(self.store.client, self.names, agent.quota_account, agent.quota_limits)
        self.pid = os.getpid()
        self.owner = self.names.heartbeat_key(agent.name, settings.vm_id, self.pid)
        self.holds = Holds(self.store.client, self.names, agent.name, settings.vm_id, self.owner)
        self.canary = CanarySchedule(settings.ops.canary_interval if agent.canary_action else 0.0)
        if agent.canary_action:
            self.holds.restore()  # still waiting for a person since before a restart: keep holding
            if self.holds.human_reason:
                self.canary.done(held=True)
                self.metrics.needs_human.labels(agent.name).set(1)
        self.held: str | None = None  # why the worker takes no commands now (holds.py)
        self._drained = False
        self._consumer: str | None = None  # the consumer tag while taking commands
        self.stopping = threading.Event()
        self.counts: Counter[str] = Counter()
        self.pending: deque[Delivery] = deque()
        self.current: str | None = None
        self.abandoned = False  # a browser call is stuck or was cut off: exit instead of serving on
        self._conn: pika.BlockingConnection | None = None
        self._publisher: broker.Publisher | None = None
        self.outbox = broker.AgentEventOutbox()
        self._last_beat = 0.0
        self._last_prune = time.monotonic()
        self._stop_requested_at = 0.0
        self._reports: queue.Queue[tuple[str, str | None]] = queue.Queue()  # from the browser thread
        labels = agent.name
        self.browser = BrowserSession(
            settings.browser.cdp_port,
            settings.browser.connect_timeout,
            on_connect=lambda again: self._browser_connected(again),
            on_disconnect=lambda: self.metrics.browser_connected.labels(labels).set(0),
            on_crash=self.metrics.page_crashes.labels(labels).inc,
        )
        self.browser_thread = BrowserThread()

    # ------------------------------------------------------------------ lifecycle
    def request_stop(self) -> None:
        if not self.stopping.is_set():
            self._stop_requested_at = time.monotonic()
            self.stopping.set()

    def attach_soon(self, within: float = 60.0) -> None:
        """Attach to Chromium in the background at start, so metrics show the browser early."""

        def attach() -> None:
            try:
                self.browser.context(Deadline(within))
            except TaskError as exc:
                log.warning("Chromium not attached yet: %s", exc)

        self.browser_thread.submit(attach)

    def serve_metrics(self) -> None:
        port = (
            self.settings.metrics.lincoln_port
            if self.agent.name == "lincoln"
            else self.settings.metrics.shaun_port
        )
        start_http_server(port, addr=self.settings.metrics.bind, registry=self.metrics.registry)

    def run(self) -> int:
        started = time.monotonic()
        delay = 0.5
        while not self.stopping.is_set() and not self.abandoned:
            try:
                self._serve()
                delay = 0.5
            except RECONNECT_ERRORS as exc:
                self.metrics.broker_connected.labels(self.agent.name).set(0)
                log.warning("RabbitMQ unavailable (%s); reconnecting in %.1fs", exc, delay)
                self.stopping.wait(delay)
                delay = min(self.settings.rabbitmq.reconnect_max_delay, delay * 2) * random.uniform(0.8, 1.2)
            finally:
                self._close_connection()
        self.browser_thread.submit(self.browser.close)
        self.browser_thread.stop()
        try:
            self.store.clear_heartbeat(self.agent.name, self.settings.vm_id, self.pid)
        except StateError:
            pass
        summary = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items())) or "no commands"
        log.info("%s stopped after %.0fs: %s", self.agent.name, time.monotonic() - started, summary)
        return 1 if self.abandoned else 0

    def _close_connection(self) -> None:
        conn, self._conn, self._publisher = self._conn, None, None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except broker.CONNECTION_ERRORS:
                pass

    def _serve(self) -> None:
        conn = broker.connect(self.settings)
        self._conn = conn
        consume = conn.channel()
        broker.declare_topology(consume, self.names)
        self._publisher = broker.Publisher(conn.channel(), self.names)
        self.outbox.flush(self._publisher)  # agent events that happened while RabbitMQ was away
        consume.basic_qos(prefetch_count=self.rt.prefetch)
        self._consumer = None
        self.metrics.broker_connected.labels(self.agent.name).set(1)
        while not self.stopping.is_set() and not self.abandoned:
            self._hold_or_resume(consume)
            conn.process_data_events(time_limit=0.5)
            self._tick()
            while self.pending and not self.stopping.is_set() and not self.abandoned:
                self._handle(self.pending.popleft())
                self._hold_or_resume(consume)
            if not self.pending and self.canary.due() and self.held != RECYCLE:
                self._run_canary()
        if self._consumer is not None:
            consume.basic_cancel(self._consumer)
            self._consumer = None
        self._give_back_pending()

    def _give_back_pending(self) -> None:
        while self.pending:  # delivered but not started: give them back
            d = self.pending.popleft()
            self._settle(d, requeue=True)

    # ------------------------------------------------------------------ holds (recycle, needs a person)
    def _hold_or_resume(self, consume: BlockingChannel) -> None:
        """Between commands: stop consuming while held, drain for a recycle, consume again after."""
        reason = self.holds.reason()
        if reason and self._consumer is not None:
            consume.basic_cancel(self._consumer)
            self._consumer = None
            self._give_back_pending()
            log.info("%s holds its queue: %s", self.agent.name, reason)
        if reason == RECYCLE and not self._drained:
            # Detach at this safe point: the recycled browser is attached afresh afterwards.
            detached = self.browser_thread.submit(self.browser.close)
            self._pump(60, until=detached.done)
            self.metrics.browser_connected.labels(self.agent.name).set(0)
            try:
                self.holds.drained()
                self._drained = True
            except StateError as exc:
                log.warning("could not report drained: %s", exc)
        if not reason and self._consumer is None:
            queue_name = self.names.agent_queue(self.agent.name)
            self._consumer = consume.basic_consume(queue_name, self._on_message)
            log.info("%s consuming %s", self.agent.name, queue_name)
            if self._drained:
                self._drained = False
                self.attach_soon()
        if reason != self.held:
            self.held = reason
            self.metrics.paused.labels(self.agent.name).set(1 if reason else 0)
            self.metrics.needs_human.labels(self.agent.name).set(1 if self.holds.human_reason else 0)
            self._last_beat = 0.0  # show it in the heartbeat now

    def _run_canary(self) -> None:
        """Is the site still logged in? Not: hold the queue and ask for a person. Unknown: no change."""
        name = self.agent.canary_action
        assert name is not None
        action = self.agent.action(name)
        deadline = Deadline(60)

        def work(page: Any) -> Any:
            ctx = ActionContext(page, f"canary-{self.agent.name}", deadline, self.policy, self.capture_store)
            return action.run(ctx, NoParams())

        future = self.browser_thread.submit(lambda: self.browser.run(deadline, work))
        self._pump(deadline.remaining() + HARD_GRACE, until=future.done)
        try:
            answer = future.result(timeout=0)
        except Exception as exc:  # a canary that cannot tell changes nothing
            log.warning("session canary could not tell: %s", first_line(exc))
            self.canary.done(self.holds.human_reason is not None)
            return
        self.metrics.site_logged_in.labels(self.agent.name).set(1 if answer.get("logged_in") else 0)
        try:
            kind = self.holds.canary_answer(answer, ttl=3 * max(self.settings.ops.canary_interval, 60))
            self.metrics.needs_human.labels(self.agent.name).set(1 if self.holds.human_reason else 0)
            if kind is not None:  # published after the metric, so a listener that hears it sees both
                note = self.holds.human_reason or "the site session is back; taking commands again"
                log.log(logging.ERROR if kind == "needs_human" else logging.INFO, "%s: %s", kind, note)
                details = {"reason": note} if kind == "needs_human" else answer
                self.outbox.add(
                    self.agent.name, kind, {"vm_id": self.settings.vm_id, "at": time.time(), **details}
                )
        except StateError as exc:
            log.warning("canary outcome not recorded: %s", exc)
        self.outbox.flush(self._publisher)
        self.canary.done(self.holds.human_reason is not None)

    def _on_message(
        self, channel: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes
    ) -> None:
        self.pending.append(Delivery(channel, method.delivery_tag, props, body, bool(method.redelivered)))

    def _pump(self, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
        """Keep the AMQP connection serviced (heartbeats) for ``seconds``, or until ``until()`` holds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            conn = self._conn
            if conn is not None and conn.is_open:
                try:
                    conn.process_data_events(time_limit=min(0.1, max(0.0, end - time.monotonic())))
                except broker.CONNECTION_ERRORS as exc:
                    # Finish the work and store its result; the serve loop reconnects afterwards and the
                    # redelivered message finds the stored result.
                    log.warning("lost RabbitMQ during a command: %s", exc)
                    self._conn = None
            else:
                time.sleep(0.1)
            self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= self.rt.heartbeat_interval:
            self._last_beat = now
            try:
                self.store.heartbeat(
                    self.agent.name,
                    self.settings.vm_id,
                    self.pid,
                    ttl=self.rt.heartbeat_interval + 1,
                    task=self.current or "",
                    paused=self.held or "",
                    host=os.uname().nodename,
                )
            except StateError as exc:
                log.warning("heartbeat not written: %s", exc)
        if now - self._last_prune >= self.settings.captures.prune_interval:
            self._last_prune = now
            c = self.settings.captures
            captures.prune(c.dir, c.max_age_days, c.max_bytes)

    def _browser_connected(self, again: bool) -> None:
        self.metrics.browser_connected.labels(self.agent.name).set(1)
        if again:
            self.metrics.browser_reconnects.labels(self.agent.name).inc()

    # ------------------------------------------------------------------ helpers
    def _state(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the task store, waiting out a Redis outage while the AMQP connection stays serviced."""
        delay = 0.5
        while True:
            try:
                return fn(*args, **kwargs)
            except StateError as exc:
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                if (
                    self.stopping.is_set()
                    and time.monotonic() - self._stop_requested_at > self.rt.shutdown_grace
                ):
                    raise
                self._pump(delay)
                delay = min(5.0, delay * 2)

    def _settle(self, d: Delivery, requeue: bool | None = None) -> None:
        """Ack (or nack) on the channel that delivered, if it is still open: a tag from a closed channel
        is stale after a reconnect, and the broker redelivers that message anyway."""
        if not d.channel.is_open:
            return
        if requeue is None:
            d.channel.basic_ack(d.tag)
        else:
            d.channel.basic_nack(d.tag, requeue=requeue)

    @property
    def publisher(self) -> broker.Publisher:
        if self._publisher is None:
            raise BrokerError("not connected")
        return self._publisher

    # ------------------------------------------------------------------ one command
    def _handle(self, d: Delivery) -> None:
        try:
            command = Command.decode(d.body, self.rt.max_body_bytes)
            if command.agent != self.agent.name:
                raise Rejected(f"command for agent {command.agent!r} arrived on {self.agent.name}'s queue")
        except Rejected as exc:
            task_id = peek_id(d.body) or d.props.message_id or f"invalid-{time.time_ns()}"
            placeholder = Command.model_construct(
                id=task_id,
                agent=self.agent.name,
                action="invalid",
                params={},
                priority="normal",
                created_at=time.time(),
                capture=False,
            )
            log.warning("rejected message %s: %s", task_id, exc)
            self._finish(d, placeholder, Outcome(REJECTED, error=str(exc)), dead_letter=True)
            return
        token = current_task.set(command.id)
        try:
            self._handle_command(d, command)
        finally:
            current_task.reset(token)
            self.current = None

    def _handle_command(self, d: Delivery, command: Command) -> None:
        stored = self._state(self.store.stored_result, command.id)
        if stored is not None:
            log.info("task %s already %s; re-publishing its result", command.id, stored.status)
            self.publisher.event(stored)
            if d.props.reply_to:
                self.publisher.reply(d.props.reply_to, d.props.correlation_id or command.id, stored)
            self._settle(d)
            return
        max_age = command.max_age or self.rt.default_max_age
        if time.time() - command.created_at > max_age:
            age = time.time() - command.created_at
            self._finish(
                d,
                command,
                Outcome(EXPIRED, error=f"arrived {age:.0f}s after creation, max age {max_age:.0f}s"),
            )
            return
        holder = self._state(
            self.store.acquire, command.id, self.owner, self._timeout(command) + HARD_GRACE + 30
        )
        if holder is not None and holder != self.owner:
            if self._state(self.store.is_alive, holder):
                log.info("task %s is being worked on by %s; looking again later", command.id, holder)
                self.publisher.retry(self.agent.name, d.body, d.props, BUSY_RETRY_DELAY)
                self._settle(d)
                return
            log.warning("task %s was held by %s, which is gone; taking it over", command.id, holder)
            self._state(
                self.store.take_over, command.id, self.owner, self._timeout(command) + HARD_GRACE + 30
            )
        try:
            self._run_locked(d, command)
        finally:
            if not self.abandoned:
                self._state(self.store.release, command.id, self.owner)

    def _drain_reports(self, d: Delivery, command: Command) -> None:
        """Record status changes the action reported mid-way (needs_human and back), on the main thread."""
        while True:
            try:
                status, note = self._reports.get_nowait()
            except queue.Empty:
                return
            event = self._state(self.store.transition, command, status, self.settings.vm_id, error=note)
            self.publisher.event(event)
            if d.props.reply_to and status == NEEDS_HUMAN:
                self.publisher.reply(d.props.reply_to, d.props.correlation_id or command.id, event)

    def _timeout(self, command: Command) -> float:
        return min(command.timeout or self.rt.default_timeout, self.rt.max_timeout)

    def _run_locked(self, d: Delivery, command: Command) -> None:
        try:
            action = self.agent.action(command.action)
            params = action.parse(command.params)
        except Rejected as exc:
            self._finish(d, command, Outcome(REJECTED, error=str(exc)), dead_letter=True)
            return
        if action.quota is not None:
            full = self._state(self.quotas.take, action.quota)
            if full is not None:
                self._defer(d, command, full)
                return
        attempt = self._state(self.store.begin_attempt, command)
        if attempt > self.rt.max_attempts:
            if action.quota is not None:
                self._state(self.quotas.give_back, action.quota)
            record = self._state(self.store.get, command.id) or {}
            last = record.get("error") or "the agent died while running it"
            reason = f"gave up after {attempt - 1} attempts (max {self.rt.max_attempts}): {last}"
            self._finish(d, command, Outcome(FAILED, error=reason), dead_letter=True)
            return
        self.current = command.id
        event = self._state(self.store.transition, command, RUNNING, self.settings.vm_id)
        self.publisher.event(event)
        deadline = Deadline(self._timeout(command))
        memo = (self._state(self.store.get, command.id) or {}).get("memo", {})
        labels = (self.agent.name, command.action)
        self.metrics.in_progress.labels(self.agent.name).inc()
        started = time.monotonic()
        if action.browser:  # seconds long: the heartbeat (status page) shows it now, and that it ended
            self._last_beat = 0.0
        try:
            if action.browser:
                future = self.browser_thread.submit(
                    lambda: self._execute(command, action, params, deadline, memo)
                )
                outcome = self._wait(d, command, future, deadline)
                self._drain_reports(d, command)
            else:
                outcome = self._execute(command, action, params, deadline, memo)
        finally:
            self.metrics.in_progress.labels(self.agent.name).dec()
            if action.browser:
                self.holds.count_browser_command()  # toward ops.recycle_max_commands
                self._last_beat = 0.0
        if outcome is None:  # shutting down: the command went back to the queue
            return
        did_nothing = isinstance(outcome.result, dict) and outcome.result.get("sent") is False
        if action.quota is not None and (did_nothing or outcome.status == REJECTED):
            self._state(self.quotas.give_back, action.quota)
        self.metrics.duration.labels(*labels).observe(time.monotonic() - started)
        if outcome.retryable and attempt < self.rt.max_attempts:
            self._retry(d, command, attempt, outcome)
        elif outcome.retryable:
            outcome.status = FAILED
            outcome.error = f"gave up after {attempt} attempts: {outcome.error}"
            self._finish(d, command, outcome, dead_letter=True)
        else:
            self._finish(d, command, outcome, dead_letter=outcome.status in (FAILED, REJECTED))

    def _wait(
        self, d: Delivery, command: Command, future: Future[Outcome], deadline: Deadline
    ) -> Outcome | None:
        """Service AMQP while the browser thread works; None if the command was handed back at shutdown."""
        conn = self._conn
        if conn is not None:
            # Wake the AMQP poll the moment the work is done, instead of at its next 0.1 s tick.
            future.add_done_callback(lambda _f: self._wake(conn))
        while not future.done():
            self._pump(0.1, until=future.done)
            self._drain_reports(d, command)
            if deadline.remaining() < -HARD_GRACE:
                log.error("the browser thread is stuck past the deadline; the agent will restart")
                self.abandoned = True
                return Outcome(TIMED_OUT, error="deadline passed and the browser did not answer")
            if self.stopping.is_set() and time.monotonic() - self._stop_requested_at > self.rt.shutdown_grace:
                log.warning("shutting down: handing the command in flight back to the queue")
                self.abandoned = True
                self._settle(d, requeue=True)
                return None
        return future.result()

    def _execute(
        self, command: Command, action: Any, params: Any, deadline: Deadline, memo: dict[str, Any]
    ) -> Outcome:
        """Runs on the browser thread."""
        ctx_box: list[ActionContext] = []

        def work(page: Any) -> Any:
            ctx = ActionContext(
                page,
                command.id,
                deadline,
                self.policy,
                self.capture_store,
                on_capture=self._count_capture,
                report=lambda status, note: self._reports.put((status, note)),
                memo=memo,
                remember=lambda key, value: self._remember(command.id, key, value),
                on_egress_denied=self.metrics.egress_denied.labels(self.agent.name).inc,
                on_locator_miss=lambda locator: self.metrics.locator_misses.labels(
                    self.agent.name, locator
                ).inc(),
            )
            ctx_box.append(ctx)
            result = action.run(ctx, params)
            if command.capture:
                ctx.capture("result")
            if deadline.passed():
                raise DeadlineExceeded(f"finished {-deadline.remaining():.1f}s past the deadline")
            return result

        try:
            if not action.browser:
                return Outcome(SUCCEEDED, action.run(None, params))
            result = self.browser.run(deadline, work)
            return Outcome(SUCCEEDED, result, captures=ctx_box[0].saved if ctx_box else [])
        except TaskError as exc:
            saved = ctx_box[0].saved if ctx_box else []
            if not isinstance(exc, Rejected):
                saved = saved + self.browser.capture_on_failure(self._failure_capture(command))
            return Outcome(exc.status, error=str(exc), retryable=exc.retryable, captures=saved)
        except Exception as exc:  # a bug in an action must not kill the worker
            log.exception("action %s raised", command.action)
            return Outcome(FAILED, error=f"internal error: {type(exc).__name__}: {exc}")

    def _remember(self, task_id: str, key: str, value: Any) -> None:
        """Runs on the browser thread (redis-py is thread-safe); a lost Redis makes the attempt retryable."""
        try:
            self.store.remember(task_id, key, value)
        except StateError as exc:
            raise Retryable(f"could not record progress: {exc}") from None

    @staticmethod
    def _wake(conn: pika.BlockingConnection) -> None:
        """Runs on the browser thread: interrupt the main thread's wait on the connection."""
        try:
            conn.add_callback_threadsafe(lambda: None)
        except broker.CONNECTION_ERRORS:
            pass  # the connection is gone; the main thread notices on its own

    def _failure_capture(self, command: Command) -> Callable[[Any], list[str]]:
        def save(page: Any) -> list[str]:
            ctx = ActionContext(
                page,
                command.id,
                Deadline(15),
                self.policy,
                self.capture_store,
                on_capture=self._count_capture,
            )
            return ctx.capture("failure")

        return save

    def _count_capture(self, kind: str, size: int) -> None:
        self.metrics.capture_bytes.labels(self.agent.name, kind).inc(size)

    def _defer(self, d: Delivery, command: Command, full: QuotaFull) -> None:
        """Over quota: not run and not lost. Back when the window reopens, or rejected if that is too late."""
        when = datetime.datetime.fromtimestamp(full.reopens_at, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        what = (
            f"quota {full.quota!r} of account {self.agent.quota_account!r} is used up for this {full.window}"
        )
        cutoff = command.created_at + (command.max_age or self.rt.default_max_age)
        if full.reopens_at > cutoff:
            error = f"{what}; it reopens at {when}, after the command's max age"
            self._finish(d, command, Outcome(REJECTED, error=error), dead_letter=True)
            return
        note = f"{what}; deferred until {when}"
        log.info("task %s %s", command.id, note)
        event = self._state(self.store.transition, command, DEFERRED, self.settings.vm_id, error=note)
        self.publisher.event(event)
        delay = max(1.0, full.reopens_at - time.time()) + random.uniform(0, 30)
        self.publisher.retry(self.agent.name, d.body, d.props, delay, deferred=True)
        self._settle(d)
        self.counts["deferred"] += 1

    def _retry(self, d: Delivery, command: Command, attempt: int, outcome: Outcome) -> None:
        base = min(self.rt.retry_max_delay, self.rt.retry_base_delay * 2 ** (attempt - 1))
        delay = base * random.uniform(0.5, 1.5)
        note = f"attempt {attempt} failed: {outcome.error}; retrying in {delay:.1f}s"
        log.warning("task %s %s", command.id, note)
        event = self._state(
            self.store.transition, command, QUEUED, self.settings.vm_id, error=note, captures=outcome.captures
        )
        self.publisher.event(event)
        self.publisher.retry(self.agent.name, d.body, d.props, delay)
        self._settle(d)
        self.metrics.retries.labels(self.agent.name).inc()
        self.counts["retried"] += 1

    def _finish(self, d: Delivery, command: Command, outcome: Outcome, dead_letter: bool = False) -> None:
        """Store, count, publish, dead-letter if asked, and only then ack."""
        event = self._state(
            self.store.transition,
            command,
            outcome.status,
            self.settings.vm_id,
            result=outcome.result,
            error=outcome.error,
            captures=outcome.captures,
        )
        action = command.action if command.action in self.agent.actions else "unknown"
        self.metrics.commands.labels(self.agent.name, action, outcome.status).inc()
        if outcome.status == SUCCEEDED:
            self.metrics.last_success.labels(self.agent.name).set_to_current_time()
        if dead_letter:
            self.metrics.dead_letters.labels(self.agent.name, outcome.status).inc()
        self.counts[outcome.status] += 1
        self.publisher.event(event)
        if d.props.reply_to:
            self.publisher.reply(d.props.reply_to, d.props.correlation_id or command.id, event)
        if dead_letter:
            self.publisher.dead_letter(self.agent.name, d.body, d.props, outcome.status, outcome.error or "")
        self._settle(d)
        note = f": {outcome.error}" if outcome.error else ""
        log.info("task %s %s %s%s", command.id, command.action, outcome.status, note)
