"""Fixtures that boot real stacks: each on its own display number, ports and directories.

Locally a missing service skips; in CI (``CI`` set) it fails, so that CI never passes by skipping.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zigral import broker, stack, state, supervision
from zigral.config import Settings, load_settings
from zigral.constants import AGENTS, Names
from zigral.render import render
from zigral.secrets import ensure_secrets, read_secret

ZIGRAL = str(Path(sys.executable).with_name("zigral"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_display() -> int:
    while True:
        n = random.randint(100, 4000)
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n


def require(what: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


def stack_settings(base: Path, **overrides: Any) -> Settings:
    """Settings for a private stack under ``base``: free display, free ports, own dirs."""
    groups: dict[str, dict[str, Any]] = {
        "paths": {"state_dir": base / "state", "run_dir": base / "run", "log_dir": base / "log"},
        "display": {"number": free_display(), "width": 1280, "height": 800},
        "vnc": {"port": free_port()},
        "browser": {"cdp_port": free_port()},
        "web": {"port": free_port(), "websockify_port": free_port()},
        "captures": {"dir": base / "captures"},
        "metrics": {"lincoln_port": free_port(), "shaun_port": free_port()},
        "runtime": {"namespace": unique_namespace()},  # never share queues with a running stack
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            groups.setdefault(key, {}).update(value)
    plain = {k: v for k, v in overrides.items() if not isinstance(v, dict)}
    return load_settings(**groups, **plain)


class Stack:
    """A running stack and handy ways to reach it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def web_auth(self) -> tuple[str, str]:
        return self.settings.web.user, read_secret(self.settings.paths.web_password_file)

    @property
    def vnc_password(self) -> str:
        return read_secret(self.settings.paths.vnc_password_file)

    def zigral(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        argv = [ZIGRAL, "--env-file", str(self.settings.paths.env_file), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check, env=self.env())

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("ZIGRAL_")}

    def states(self) -> dict[str, str]:
        return supervision.process_states(self.settings)

    def pid(self, name: str) -> int:
        return supervision.pid_of(self.settings, name)

    def ctl(self, *args: str) -> str:
        done = supervision.ctl(self.settings, *args)
        return done.stdout + done.stderr

    def log(self, program: str) -> str:
        return (self.settings.paths.log_dir / f"{program}.log").read_text(errors="replace")


def _tmpdir() -> Path:
    base = Path(tempfile.mkdtemp(prefix="zigral-test-"))
    os.chmod(base, 0o755)  # the browser user must reach its profile below it
    return base


def unique_namespace() -> str:
    return "zt" + uuid.uuid4().hex[:10]


def purge_namespace(settings: Settings) -> None:
    """Delete a test namespace's queues, exchanges and Redis keys."""
    names = Names(settings.runtime.namespace)
    conn = broker.connect(settings)
    try:
        ch = conn.channel()
        for agent in AGENTS:
            ch.queue_delete(names.agent_queue(agent))
            ch.queue_delete(names.retry_queue(agent))
            ch.queue_delete(names.deferred_queue(agent))
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


def services_available(settings: Settings) -> None:
    for what, probe in (
        ("RabbitMQ", lambda: broker.connect(settings).close()),
        ("Redis", lambda: state.connect(settings).ping()),
    ):
        try:
            probe()
        except Exception as exc:  # any failure means: not available
            require(f"{what} ({exc})", False)


@contextlib.contextmanager
def booted_stack(wait: bool = True, **overrides: Any) -> Iterator[Stack]:
    """A private stack, up (and, with ``wait``, healthy) inside the block, torn down after it."""
    require("Xvfb", shutil.which("Xvfb") is not None)
    require("chromium", Path("/usr/bin/chromium").exists())
    require("nginx", Path("/usr/sbin/nginx").exists())
    base = _tmpdir()
    s = Stack(stack_settings(base, **overrides))
    try:
        if wait:
            stack.up(s.settings, timeout=90)
        else:
            ensure_secrets(s.settings)
            render(s.settings)
            supervision.start(s.settings)
        yield s
    finally:
        try:
            supervision.stop(s.settings)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            with contextlib.suppress(Exception):  # best effort: the services may be the thing under test
                purge_namespace(s.settings)


@pytest.fixture(scope="module")
def running_stack() -> Iterator[Stack]:
    """One healthy stack shared by a test module."""
    with booted_stack() as s:
        yield s
