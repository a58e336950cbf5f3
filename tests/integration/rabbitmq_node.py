"""A RabbitMQ node of one's own, for tests and benchmarks that stop and start a broker: restarting it never
disconnects anything else on the machine (the shared broker's agents, another engineer's tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import pika.exceptions

from zigral.devstack import free_port


class RabbitNode:
    """A running private node: its AMQP URL, and stop/start of its app (what a broker restart looks like)."""

    def __init__(self, url: str, node: str) -> None:
        self.url = url
        self.node = node

    def ctl(self, *args: str) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.node, *args], check=True, capture_output=True, timeout=120)

    def restart_app(self, down: float = 0.0) -> None:
        self.ctl("stop_app")
        time.sleep(down)
        self.ctl("start_app")


def available() -> bool:
    return shutil.which("rabbitmq-server") is not None and shutil.which("rabbitmqctl") is not None


@contextmanager
def private_rabbitmq(workdir: Path | None = None) -> Iterator[RabbitNode]:
    """A node on free ports with its own data, no plugins (no listener on the shared 15672)."""
    port, dist = free_port(), free_port()
    node = f"zigral-test-{uuid.uuid4().hex[:8]}@localhost"
    base = Path(tempfile.mkdtemp(prefix="zigral-rabbit-", dir=workdir))
    os.chmod(base, 0o755)
    (base / "enabled_plugins").write_text("[].\n")
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
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"private RabbitMQ {node} did not start (logs in {base / 'log'})"
                    ) from None
                time.sleep(0.5)
        yield RabbitNode(url, node)
    finally:
        subprocess.run(["rabbitmqctl", "-n", node, "stop"], capture_output=True, timeout=120)
        proc.wait(timeout=60)
        shutil.rmtree(base, ignore_errors=True)
