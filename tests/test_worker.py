"""The worker's own loop (the command path itself is tests/test_pipeline.py): reconnecting to RabbitMQ."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions
import pytest

from zigral import broker
from zigral.agents.base import Agent
from zigral.config import RabbitMQSettings, RuntimeSettings, Settings
from zigral.errors import BrokerError
from zigral.messages import Command
from zigral.runtime.memory import message
from zigral.worker import Worker


class Echoer(Agent):
    name = "shaun"


class FlakyConnection:
    """Connects, then drops at the first poll, like a broker restart."""

    is_open = True

    def channel(self) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:  # basic_qos, basic_consume, confirm_delivery...
        return lambda *a, **kw: f"{name}-tag"

    def process_data_events(self, time_limit: float = 0) -> None:
        raise pika.exceptions.StreamLostError("connection reset by peer")

    def close(self) -> None:
        self.is_open = False


class Waits(threading.Event):
    """Records each reconnect delay instead of sleeping; asks the worker to stop after ``limit`` waits."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.delays: list[float] = []
        self.limit = limit

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(timeout or 0.0)
        if len(self.delays) >= self.limit:
            self.set()
        return self.is_set()


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    settings = Settings(
        runtime=RuntimeSettings(namespace="zw" + uuid.uuid4().hex[:8]),
        rabbitmq=RabbitMQSettings(reconnect_max_delay=15.0),
    )
    monkeypatch.setattr(broker, "declare_topology", lambda *a, **kw: None)
    w = Worker(settings, Echoer(settings))
    yield w
    w.browser_thread.stop()
    keys = list(w.store.client.scan_iter(match=f"{settings.runtime.namespace}:*"))
    if keys:
        w.store.client.delete(*keys)
    w.store.client.close()


def test_after_a_long_outage_the_next_blip_reconnects_at_once_again(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = {"n": 0}

    def connect(settings: Settings, heartbeat: int | None = None) -> Any:
        attempts["n"] += 1
        if attempts["n"] <= 6:  # a long outage: six refused connections
            raise BrokerError("RabbitMQ at 127.0.0.1:5672: connection refused")
        return FlakyConnection()  # back, then a blip

    monkeypatch.setattr(broker, "connect", connect)
    worker.stopping = Waits(limit=8)
    assert worker.run() == 0
    delays = worker.stopping.delays
    assert delays[0] == 0.5 and delays[5] > 8  # grew during the outage, jittered, capped at 15
    assert max(delays) <= 15.0
    assert delays[6] == 0.5  # connected once: the blip after it waits the first delay again, not 15 s


def test_a_wiped_redis_is_noticed_logged_and_counted(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    worker._check_epoch()
    worker._check_epoch()
    assert worker.metrics.registry.get_sample_value("zigral_redis_wipes_total", {"agent": "shaun"}) == 0
    worker.store.client.delete(worker.names.epoch_key)  # what a FLUSHALL does to this namespace
    worker._check_epoch()
    assert worker.metrics.registry.get_sample_value("zigral_redis_wipes_total", {"agent": "shaun"}) == 1
    assert "Redis lost its data" in caplog.text
    assert worker.store.redis_wiped() is not None


class Channel:
    """Enough of pika's BlockingChannel and BlockingConnection for the worker's loop, in memory."""

    is_open = True

    def __init__(self, deliveries: list[tuple[str, bytes]], stop: threading.Event) -> None:
        self.deliveries = deliveries
        self.stop = stop
        self.consumers: dict[str, Any] = {}
        self.published: list[tuple[str, str, bytes]] = []
        self.acked: list[int] = []
        self.requeued: list[int] = []
        self.tag = 0
        self.polls = 0

    def channel(self) -> Channel:
        return self

    def __getattr__(self, name: str) -> Any:  # queue_declare, queue_bind, basic_qos, confirm_delivery...
        return lambda *a, **kw: None

    def basic_consume(self, queue: str, callback: Any) -> str:
        self.consumers[queue] = callback
        return f"ctag-{queue}"

    def basic_cancel(self, tag: str) -> None:
        self.consumers.pop(tag.removeprefix("ctag-"), None)

    def basic_publish(
        self, exchange: str, routing_key: str, body: bytes, props: Any, mandatory: bool
    ) -> None:
        self.published.append((exchange, routing_key, body))

    def basic_ack(self, tag: int) -> None:
        self.acked.append(tag)

    def basic_nack(self, tag: int, requeue: bool) -> None:
        self.requeued.append(tag)

    def process_data_events(self, time_limit: float = 0) -> None:
        self.polls += 1
        queue = next((q for q in self.consumers if not q.endswith(".expired")), None)
        if queue is None or not self.deliveries:
            if self.polls > 3:
                self.stop.set()
            return
        while self.deliveries:
            routing_key, body = self.deliveries.pop(0)
            self.tag += 1
            method = type(
                "Deliver", (), {"routing_key": routing_key, "delivery_tag": self.tag, "redelivered": False}
            )
            self.consumers[queue](self, method, pika.BasicProperties(), body)

    def add_callback_threadsafe(self, fn: Any) -> None:
        fn()

    def close(self) -> None:
        self.is_open = False


def test_the_worker_takes_deliveries_through_the_pipeline_and_acks_each_once(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [Command(agent="shaun", action="echo", params={"n": n}) for n in range(3)]
    channel = Channel(
        [("shaun.echo", c.encode()) for c in bodies] + [("shaun.echo", b"{nope")], worker.stopping
    )
    monkeypatch.setattr(broker, "connect", lambda settings, heartbeat=None: channel)
    assert worker.run() == 0
    assert channel.acked == [1, 2, 3, 4] and channel.requeued == []
    routed = [key for _exchange, key, _body in channel.published]
    assert routed.count("task.shaun.succeeded") == 3 and "shaun" in routed  # the bad one's dead letter
    assert [worker.store.get(c.id)["status"] for c in bodies] == ["succeeded"] * 3  # type: ignore[index]
    assert worker.metrics_hook.counts == {"succeeded": 3, "rejected": 1}


def test_a_recycle_hold_gives_back_what_waits_and_consuming_resumes_after(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = Channel([], worker.stopping)
    monkeypatch.setattr(broker, "connect", lambda settings, heartbeat=None: channel)
    worker._conn = channel  # type: ignore[assignment]
    waiting = message(Command(agent="shaun", action="echo").model_dump(mode="json"))
    worker.pending.append(
        type(waiting)(waiting.body, waiting.routing_key, waiting.props, False, (channel, 9))
    )
    worker._consumers = ["ctag-x"]
    worker.store.client.set(worker.names.recycle_key(worker.settings.vm_id), "1", ex=30)
    worker._hold_or_resume(channel)  # type: ignore[arg-type]
    assert worker.held == "recycle" and worker._consumers == [] and channel.requeued == [9]
    assert worker.store.client.sismember(worker.names.drained_key(worker.settings.vm_id), worker.owner)
    worker.store.client.delete(worker.names.recycle_key(worker.settings.vm_id))
    worker.holds._checked_at = -1e9  # look at the keys now, not in 0.25 s
    worker._hold_or_resume(channel)  # type: ignore[arg-type]
    assert worker.held is None and len(worker._consumers) >= 2  # the agent queue and its expired queue


def test_a_browser_action_runs_on_the_browser_thread_while_the_connection_is_serviced(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    from zigral.deadline import Deadline
    from zigral.generic import GENERIC
    from zigral.runtime.decisions import Job, Outcome

    def slow(job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome:
        worker.runner.reports.put(("needs_human", "a checkpoint"))
        clock.sleep(0.3)
        return Outcome("succeeded", {"title": "t"})

    monkeypatch.setattr(worker.runner, "run", slow)
    reported: list[tuple[str, str | None]] = []
    monkeypatch.setattr(worker.pipeline, "report", lambda job, status, note: reported.append((status, note)))
    command = Command(agent="shaun", action="navigate", params={"url": "https://example.com/"})
    job = Job(message(command.model_dump(mode="json")), "fp", command=command, action=GENERIC["navigate"])
    outcome = worker._execute(job, Deadline(10), {})
    assert outcome is not None and outcome.result == {"title": "t"}
    assert reported == [("needs_human", "a checkpoint")]


def test_a_signed_out_site_holds_the_queue_and_says_so_once(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zigral.actions import Action, NoParams

    class Site(Echoer):
        canary_action = "check_session"

        def site_actions(self) -> list[Action[Any]]:
            return [Action("check_session", NoParams, lambda ctx, p: {"logged_in": False})]

    worker.agent = Site(worker.settings)
    monkeypatch.setattr(worker.browser, "run", lambda deadline, work, navigates=False: {"logged_in": False})
    worker._run_canary()
    worker._run_canary()
    assert worker.holds.human_reason is not None and "signed out" in worker.holds.human_reason
    assert worker.metrics.registry.get_sample_value("zigral_agent_needs_human", {"agent": "shaun"}) == 1
    assert [kind for _agent, kind, _data in worker.outbox._pending] == ["needs_human"]  # once, not twice


def _browser_job(action: str = "navigate") -> Any:
    from zigral.generic import GENERIC
    from zigral.runtime.decisions import Job

    command = Command(agent="shaun", action=action, params={"url": "https://example.com/"})
    return Job(message(command.model_dump(mode="json")), "fp", command=command, action=GENERIC[action])


def test_a_browser_call_stuck_past_its_deadline_times_out_and_the_agent_restarts(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    from zigral import worker as worker_module
    from zigral.deadline import Deadline

    monkeypatch.setattr(worker_module, "HARD_GRACE", 0.0)
    monkeypatch.setattr(worker.runner, "run", lambda job, deadline, memo: clock.sleep(1.0))
    outcome = worker._execute(_browser_job(), Deadline(0.1), {})
    assert outcome is not None and outcome.status == "timed_out" and worker.abandoned


def test_a_command_still_running_past_the_shutdown_grace_is_handed_back(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as clock

    from zigral.deadline import Deadline

    monkeypatch.setattr(worker.runner, "run", lambda job, deadline, memo: clock.sleep(1.0))
    worker.rt = worker.rt.model_copy(update={"shutdown_grace": 0.0})
    worker.request_stop()
    worker.request_stop()  # twice is harmless
    assert worker._execute(_browser_job(), Deadline(30), {}) is None and worker.abandoned


def test_a_connection_lost_while_a_command_runs_is_left_for_the_serve_loop(worker: Worker) -> None:
    class Lost:
        is_open = True

        def process_data_events(self, time_limit: float = 0) -> None:
            raise pika.exceptions.StreamLostError("reset")

        def add_callback_threadsafe(self, fn: Any) -> None:
            raise pika.exceptions.ConnectionWrongStateError("closed")

    worker._conn = Lost()  # type: ignore[assignment]
    worker._pump(0.3)
    assert worker._conn is None
    Worker._wake(Lost())  # type: ignore[arg-type]  # from the browser thread: no error escapes
    worker._browser_connected(again=True)
    assert (
        worker.metrics.registry.get_sample_value("zigral_browser_reconnects_total", {"agent": "shaun"}) == 1
    )
