"""The runtime survives its services going away, and shares work across VMs."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zigral.client import Client
from zigral.config import load_settings
from zigral.messages import Command
from zigral.state import TaskStore

from . import rabbitmq_node
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
    require("rabbitmq-server", rabbitmq_node.available())
    with (
        rabbitmq_node.private_rabbitmq(open_dir) as rabbit,
        booted_stack(rabbitmq={"url": rabbit.url}, runtime={"heartbeat_interval": 1.0}) as s,
    ):
        store = TaskStore.from_settings(s.settings)
        with Client(s.settings) as client:
            ids = [
                client.submit(Command(agent="lincoln", action="sleep", params={"seconds": 0.2}))
                for _ in range(30)
            ]
        time.sleep(1.0)
        rabbit.restart_app(down=2)  # a node of this test's own: the machine's broker is never touched
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
