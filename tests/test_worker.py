"""The worker's own loop (the command path itself is tests/test_pipeline.py): reconnecting to RabbitMQ."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pika.exceptions
import pytest

from zigral import broker
from zigral.agents.base import Agent
from zigral.config import RabbitMQSettings, RuntimeSettings, Settings
from zigral.errors import BrokerError
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
