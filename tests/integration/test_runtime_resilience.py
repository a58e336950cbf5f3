"""The runtime survives its services going away, and shares work across VMs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import pika.exceptions
import pytest

from zigral.client import Client
from zigral.config import load_settings
from zigral.messages import Command
from zigral.state import TaskStore

from .conftest import booted_stack, free_port, require, services_available, unique_namespace

pytestmark = pytest.mark.integration


@contextmanager
def private_redis(port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    require("redis-server", shutil.which("redis-server") is not None)
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "private redis did not start"
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def private_rabbitmq(workdir: Path) -> Iterator[tuple[str, str]]:
    """A RabbitMQ node of this test's own (AMQP URL, node name): restarting it never touches the machine's."""
    require("rabbitmq-server", shutil.which("rabbitmq-server") is not None)
    port, dist = free_port(), free_port()
    node = f"zigral-test-{uuid.uuid4().hex[:8]}@localhost"
    base = workdir / "rabbitmq"
    base.mkdir()
    (base / "enabled_plugins").write_text("[].\n")  # no management listener on the shared 15672
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
    if os.geteuid() == 0:  # rabbitmq-server drops to the rabbitmq user, which must write here
        for path in (base, *base.iterdir()):
            shutil.chown(path, "rabbitmq", "rabbitmq")
    env = {
        **os.environ,
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
    }
    proc = subprocess.Popen(
        ["rabbitmq-server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                pika.BlockingConnection(pika.URLParameters(url)).close()
                break
            except pika.exceptions.AMQPError:
                assert proc.poll() is None and time.monotonic() < deadline, "private RabbitMQ did not start"
                time.sleep(0.5)
        yield url, node
    finally:
        subprocess.run(["rabbitmqctl", "-n", node, "stop"], capture_output=True, timeout=120)
        proc.wait(timeout=60)


def wait_all(store: TaskStore, ids: list[str], status: str, timeout: float) -> dict[str, dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    records: dict[str, dict] = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        records = {i: store.get(i) or {} for i in ids}
        if all(r.get("status") == status for r in records.values()):
            return records
        time.sleep(0.2)
    missing = {i: r.get("status") for i, r in records.items() if r.get("status") != status}
    raise AssertionError(f"not all {status}: {missing}")


def test_a_redis_outage_is_waited_out_and_nothing_is_acked_before_the_result_is_stored(
    tmp_path: Path,
) -> None:
    services_available(load_settings())
    port = free_port()
    with (
        private_redis(port, tmp_path) as redis_proc,
        booted_stack(redis={"url": f"redis://127.0.0.1:{port}/0"}, runtime={"heartbeat_interval": 1.0}) as s,
    ):
        store = TaskStore.from_settings(s.settings)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        task_id = f"outage-{uuid.uuid4().hex[:8]}"
        with Client(s.settings) as client:
            client.submit(Command(id=task_id, agent="lincoln", action="echo", params={"n": 1}))
        time.sleep(3)
        assert "Redis unavailable" in s.log("lincoln")
        with private_redis(port, tmp_path):
            records = wait_all(store, [task_id], "succeeded", timeout=60)
            assert records[task_id]["result"] == {"n": 1}
            assert s.states()["agents:lincoln"] == "RUNNING"


def test_a_rabbitmq_restart_with_a_backlog_loses_nothing(open_dir: Path) -> None:
    services_available(load_settings())
    require("rabbitmqctl", shutil.which("rabbitmqctl") is not None)
    with (
        private_rabbitmq(open_dir) as (url, node),
        booted_stack(rabbitmq={"url": url}, runtime={"heartbeat_interval": 1.0}) as s,
    ):
        store = TaskStore.from_settings(s.settings)
        with Client(s.settings) as client:
            ids = [
                client.submit(Command(agent="lincoln", action="sleep", params={"seconds": 0.2}))
                for _ in range(30)
            ]
        time.sleep(1.0)
        try:
            subprocess.run(
                ["rabbitmqctl", "-n", node, "stop_app"], check=True, capture_output=True, timeout=120
            )
            time.sleep(2)
        finally:
            subprocess.run(
                ["rabbitmqctl", "-n", node, "start_app"], check=True, capture_output=True, timeout=120
            )
        records = wait_all(store, ids, "succeeded", timeout=180)
        for task_id in ids:
            assert [h["status"] for h in store.history(task_id)].count("succeeded") == 1
        assert len(records) == 30
        assert "RabbitMQ unavailable" in s.log("lincoln")


def test_two_vms_on_one_broker_and_redis_share_the_work_as_competing_consumers() -> None:
    services_available(load_settings())
    namespace = unique_namespace()
    with (
        booted_stack(vm_id="vm-one", runtime={"namespace": namespace}) as one,
        booted_stack(vm_id="vm-two", runtime={"namespace": namespace}),
    ):
        store = TaskStore.from_settings(one.settings)
        with Client(one.settings) as client:
            ids = [
                client.submit(Command(agent="shaun", action="sleep", params={"seconds": 0.3}))
                for _ in range(16)
            ]
        records = wait_all(store, ids, "succeeded", timeout=120)
        assert {r["vm_id"] for r in records.values()} == {"vm-one", "vm-two"}
        assert {b["vm_id"] for b in store.heartbeats("shaun")} == {"vm-one", "vm-two"}
