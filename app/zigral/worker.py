"""The worker: one agent's connection to RabbitMQ, its holds and canary, and its browser thread.

What happens to each command is the pipeline's business (``zigral.runtime``); the worker feeds it
deliveries and keeps the AMQP connection serviced (heartbeats never starve) while the browser thread runs
a command.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from prometheus_client import CollectorRegistry, start_http_server

from zigral import broker, captures
from zigral.actions import ActionContext, NoParams
from zigral.agents.base import Agent
from zigral.browser import BrowserSession, BrowserThread
from zigral.config import Settings
from zigral.constants import TIMED_OUT, Names
from zigral.deadline import Deadline
from zigral.errors import (
    BrokerError,
    StateError,
    TaskError,
    first_line,
)
from zigral.holds import RECYCLE, CanarySchedule, Holds
from zigral.metrics import AgentMetrics
from zigral.quotas import QuotaGate
from zigral.runtime.browsing import BrowserRunner
from zigral.runtime.decisions import Job, Message, Outcome
from zigral.runtime.execute import run_inline
from zigral.runtime.hooks import HoldsHook, Hook, MetricsHook, QuotaHook
from zigral.runtime.pipeline import HARD_GRACE, Pipeline
from zigral.runtime.settle import Redis
from zigral.runtime.transport import PikaTransport
from zigral.state import TaskStore
from zigral.urlpolicy import UrlPolicy

log = logging.getLogger(__name__)

RECONNECT_ERRORS: tuple[type[BaseException], ...] = (BrokerError, *broker.CONNECTION_ERRORS)
FIRST_RECONNECT_DELAY = 0.5


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
        self.quotas = quotas = QuotaGate(
            self.store.client, self.names, agent.quota_account, agent.quota_limits
        )
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
        self._consumers: list[str] = []  # consumer tags (agent, expired, account, VM queue) while taking work
        self._addressed: list[str] = []  # this worker's account queue and VM queue
        self.stopping = threading.Event()
        self.pending: deque[Message] = deque()
        self.current: str | None = None
        self.abandoned = False  # a browser call is stuck or was cut off: exit instead of serving on
        self._conn: pika.BlockingConnection | None = None
        self._publisher: broker.Publisher | None = None
        self.outbox = broker.AgentEventOutbox()
        self._last_beat = 0.0
        self._last_prune = time.monotonic()
        self._stop_requested_at = 0.0
        self.epoch: str | None = None  # Redis's data epoch as first seen (state.check_epoch)
        self.public_url = settings.web.public_url  # this VM's noVNC page, for the fleet view
        labels = agent.name
        self.browser = BrowserSession(
            settings.browser.cdp_port,
            settings.browser.connect_timeout,
            on_connect=lambda again: self._browser_connected(again),
            on_disconnect=lambda: self.metrics.browser_connected.labels(labels).set(0),
            on_crash=self.metrics.page_crashes.labels(labels).inc,
            agent=agent.name,  # its own labelled window on the live view (zigral.windows)
            columns=settings.enabled_agents(),
        )
        self.browser_thread = BrowserThread()
        self.runner = BrowserRunner(
            self.browser, self.policy, self.capture_store, self.metrics, self.store, quotas
        )
        self.redis = Redis(pause=self._pump, giving_up=self._past_grace)
        self.metrics_hook = MetricsHook(self.metrics, set(agent.actions))
        self.pipeline = Pipeline(
            self.rt,
            agent,
            self.store,
            PikaTransport(lambda: self._publisher),
            vm_id=settings.vm_id,
            owner=self.owner,
            account=agent.quota_account,
            quotas=quotas,
            executor=self._execute,
            hooks=[self.metrics_hook, QuotaHook(quotas, self.redis), HoldsHook(self.holds), _Beat(self)],
            redis=self.redis,
        )

    # ------------------------------------------------------------------ lifecycle
    def request_stop(self) -> None:
        if not self.stopping.is_set():
            self._stop_requested_at = time.monotonic()
            self.stopping.set()

    def _past_grace(self) -> bool:
        return self.stopping.is_set() and time.monotonic() - self._stop_requested_at > self.rt.shutdown_grace

    def attach_soon(self, within: float = 60.0) -> None:
        """Attach to Chromium in the background at start, so metrics show the browser early."""

        def attach() -> None:
            try:
                self.browser.context(Deadline(within))
            except TaskError as exc:
                log.warning("Chromium not attached yet: %s", exc)

        self.browser_thread.submit(attach)

    def serve_metrics(self) -> None:
        port = self.settings.metrics_port(self.agent.name)
        start_http_server(port, addr=self.settings.metrics.bind, registry=self.metrics.registry)

    def run(self) -> int:
        started = time.monotonic()
        self.delay = FIRST_RECONNECT_DELAY
        while not self.stopping.is_set() and not self.abandoned:
            try:
                self._serve()
            except RECONNECT_ERRORS as exc:
                self.metrics.broker_connected.labels(self.agent.name).set(0)
                log.warning("RabbitMQ unavailable (%s); reconnecting in %.1fs", exc, self.delay)
                self.stopping.wait(self.delay)
                cap = self.settings.rabbitmq.reconnect_max_delay
                self.delay = min(cap, self.delay * 2 * random.uniform(0.8, 1.2))
            finally:
                self._close_connection()
        self.browser_thread.submit(self.browser.close)
        self.browser_thread.stop()
        try:
            self.store.clear_heartbeat(self.agent.name, self.settings.vm_id, self.pid)
        except StateError:
            pass
        counts = self.metrics_hook.counts
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no commands"
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
        broker.declare_topology(consume, self.names, self.settings.enabled_agents())
        self._addressed = [  # this VM's own queues: its account's and its own (docs/FLEET.md)
            broker.declare_addressed(
                consume, self.names, self.agent.name, account=self.agent.quota_account, serving=True
            ),
            broker.declare_addressed(
                consume, self.names, self.agent.name, vm_id=self.settings.vm_id, serving=True
            ),
        ]
        self._publisher = broker.Publisher(conn.channel(), self.names, events=conn.channel())
        self.delay = FIRST_RECONNECT_DELAY  # connected: the next outage starts its backoff afresh
        self.outbox.flush(self._publisher)  # agent events that happened while RabbitMQ was away
        # For the channel, not per consumer: the worker takes its shared, expired, account and VM queues, and
        # must not hold a command of one (which an idle VM could run) while it runs another's.
        consume.basic_qos(prefetch_count=self.rt.prefetch, global_qos=True)
        self._consumers = []
        self.metrics.broker_connected.labels(self.agent.name).set(1)
        while not self.stopping.is_set() and not self.abandoned:
            self._hold_or_resume(consume)
            conn.process_data_events(time_limit=0.5)
            self._tick()
            while self.pending and not self.stopping.is_set() and not self.abandoned:
                self.pipeline.handle(self.pending.popleft())
                self._hold_or_resume(consume)
            if not self.pending and self.canary.due() and self.held != RECYCLE:
                self._run_canary()
        self._stop_consuming(consume)
        self._give_back_pending()

    def _stop_consuming(self, consume: BlockingChannel) -> None:
        for tag in self._consumers:
            consume.basic_cancel(tag)
        self._consumers = []

    def _give_back_pending(self) -> None:
        while self.pending:  # delivered but not started: give them back
            self.pipeline.give_back(self.pending.popleft())

    def _on_message(
        self, channel: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes
    ) -> None:
        self.pending.append(
            Message(body, method.routing_key, props, bool(method.redelivered), (channel, method.delivery_tag))
        )

    # ------------------------------------------------------------------ holds (recycle, needs a person)
    def _hold_or_resume(self, consume: BlockingChannel) -> None:
        """Between commands: stop consuming while held, drain for a recycle, consume again after."""
        reason = self.holds.reason()
        if reason and self._consumers:
            self._stop_consuming(consume)
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
        if not reason and not self._consumers:
            queue_name = self.names.agent_queue(self.agent.name)
            for name in (queue_name, self.names.expired_queue(self.agent.name), *self._addressed):
                self._consumers.append(consume.basic_consume(name, self._on_message))
            log.info("%s consuming %s", self.agent.name, ", ".join((queue_name, *self._addressed)))
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

    # ------------------------------------------------------------------ the connection, kept serviced
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
                    account=self.agent.quota_account,
                    url=self.public_url,
                    locator_misses=json.dumps(self.metrics.locator_miss_counts()),
                )
                self._check_epoch()
            except StateError as exc:
                log.warning("heartbeat not written: %s", exc)
        if now - self._last_prune >= self.settings.captures.prune_interval:
            self._last_prune = now
            c = self.settings.captures
            captures.prune(c.dir, c.max_age_days, c.max_bytes)

    def _check_epoch(self) -> None:
        """Notice a Redis that lost its data: ids already run could run again (docs/PROTOCOL.md)."""
        epoch, wiped = self.store.check_epoch(self.epoch, uuid.uuid4().hex)
        if wiped:
            log.error(
                "Redis lost its data (epoch %s is gone, now %s): results, attempt counts and quotas "
                "recorded before are gone, and an id already run would run again",
                self.epoch,
                epoch,
            )
            self.metrics.redis_wipes.labels(self.agent.name).inc()
        self.epoch = epoch

    def _browser_connected(self, again: bool) -> None:
        self.metrics.browser_connected.labels(self.agent.name).set(1)
        if again:
            self.metrics.browser_reconnects.labels(self.agent.name).inc()

    # ------------------------------------------------------------------ running an action
    def _execute(self, job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome | None:
        """The pipeline's executor: a browser action on the browser thread, the others inline."""
        assert job.action is not None and job.command is not None
        if not job.action.browser:
            return run_inline(job, deadline, memo)
        future = self.browser_thread.submit(lambda: self.runner.run(job, deadline, memo))
        conn = self._conn
        if conn is not None:
            # Wake the AMQP poll the moment the work is done, instead of at its next 0.1 s tick.
            future.add_done_callback(lambda _f: self._wake(conn))
        return self._wait(job, future, deadline)

    def _wait(self, job: Job, future: Future[Outcome], deadline: Deadline) -> Outcome | None:
        """Service AMQP while the browser thread works; None if the command goes back at shutdown."""
        while not future.done():
            self._pump(0.1, until=future.done)
            self._drain_reports(job)
            if deadline.remaining() < -HARD_GRACE:
                log.error("the browser thread is stuck past the deadline; the agent will restart")
                self.abandoned = True
                return Outcome(TIMED_OUT, error="deadline passed and the browser did not answer")
            if self._past_grace():
                log.warning("shutting down: handing the command in flight back to the queue")
                self.abandoned = True
                return None
        self._drain_reports(job)
        return future.result()

    def _drain_reports(self, job: Job) -> None:
        while True:
            try:
                status, note = self.runner.reports.get_nowait()
            except queue.Empty:
                return
            self.pipeline.report(job, status, note)

    @staticmethod
    def _wake(conn: pika.BlockingConnection) -> None:
        """Runs on the browser thread: interrupt the main thread's wait on the connection."""
        try:
            conn.add_callback_threadsafe(lambda: None)
        except broker.CONNECTION_ERRORS:
            pass  # the connection is gone; the main thread notices on its own


class _Beat(Hook):
    """The heartbeat (status page) shows a browser command the moment it starts and ends."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def before_execute(self, job: Job) -> None:
        self.worker.current = job.task_id
        if job.action is not None and job.action.browser:
            self.worker._last_beat = 0.0

    def after_execute(self, job: Job, outcome: Outcome | None) -> None:
        self.worker.current = None
        if job.action is not None and job.action.browser:
            self.worker._last_beat = 0.0
