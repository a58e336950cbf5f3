"""Private stacks for tests and benchmarks: a free display, free ports, own directories and namespace,
so that they never collide with each other or with a running stack."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zigral import broker, registry, stack, state, supervision
from zigral.config import Settings, load_settings
from zigral.constants import Names
from zigral.render import render
from zigral.secrets import ensure_secrets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: every socket stays bound until all are chosen, so none repeats."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_display() -> int:
    while True:
        n = random.randint(100, 4000)
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n


def unique_namespace() -> str:
    return "zt" + uuid.uuid4().hex[:10]


def private_settings(base: Path, **overrides: Any) -> Settings:
    """Settings for a private stack under ``base``; ``overrides`` are groups (dicts) or plain settings."""
    vnc, cdp, web, websockify, ops, egress = free_ports(6)
    names = registry.names()
    groups: dict[str, dict[str, Any]] = {
        "paths": {"state_dir": base / "state", "run_dir": base / "run", "log_dir": base / "log"},
        "display": {"number": free_display(), "width": 1280, "height": 800},
        "vnc": {"port": vnc},
        "browser": {"cdp_port": cdp},
        "web": {"port": web, "websockify_port": websockify},
        "captures": {"dir": base / "captures"},
        "metrics": {"ops_port": ops},
        "agents": {
            name: {"metrics_port": port} for name, port in zip(names, free_ports(len(names)), strict=True)
        },
        "egress": {"port": egress},
        "runtime": {"namespace": unique_namespace()},  # never share queues with a running stack
        "ops": {"canary_interval": 0},  # a test that wants session canaries turns them on
    }
    for key, value in overrides.items():  # <agent>={...} goes through as it is (load_settings moves it)
        if key == "agents" and isinstance(value, dict):
            for name, section in value.items():
                groups["agents"][name] = {**groups["agents"].get(name, {}), **section}
        elif isinstance(value, dict):
            groups.setdefault(key, {}).update(value)
    plain = {k: v for k, v in overrides.items() if not isinstance(v, dict)}
    return load_settings(**groups, **plain)


def purge_namespace(settings: Settings) -> None:
    """Delete a private namespace's queues, exchanges and Redis keys."""
    names = Names(settings.runtime.namespace)
    conn = broker.connect(settings)
    try:
        ch = conn.channel()
        for agent in settings.installed_agents():
            account = settings.agent_settings(agent).account
            for queue in (names.agent_queue(agent), names.retry_queue(agent), names.deferred_queue(agent)):
                ch.queue_delete(queue)
            ch.queue_delete(names.expired_queue(agent))
            for waiting in ("", "retry", "deferred"):  # the stack's own account and VM queues (FLEET.md)
                ch.queue_delete(names.account_queue(agent, account, waiting))
                ch.queue_delete(names.vm_queue(agent, settings.vm_id, waiting))
        ch.queue_delete(names.dead_letter_queue)
        for exchange in (names.commands_exchange, names.events_exchange, names.dead_letter_exchange):
            ch.exchange_delete(exchange)
    finally:
        conn.close()
    client = state.connect(settings)
    try:
        keys = list(client.scan_iter(match=f"{names.namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextlib.contextmanager
def private_stack(wait: bool = True, timeout: float = 90, **overrides: Any) -> Iterator[Settings]:
    """A private stack, up (with ``wait``: healthy) inside the block, stopped and removed after it."""
    base = Path(tempfile.mkdtemp(prefix="zigral-private-"))
    os.chmod(base, 0o755)  # the browser user must reach its profile below it
    settings = private_settings(base, **overrides)
    try:
        if wait:
            stack.up(settings, timeout=timeout)
        else:
            ensure_secrets(settings)
            render(settings)
            supervision.start(settings)
        yield settings
    finally:
        try:
            supervision.stop(settings)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            with contextlib.suppress(Exception):  # best effort: the services may be the thing under test
                purge_namespace(settings)
