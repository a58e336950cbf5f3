"""Fixtures that boot real stacks: each on its own display number, ports and directories.

Locally a missing service skips; in CI (``CI`` set) it fails, so that CI never passes by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zigral import broker, state, supervision
from zigral.config import Settings
from zigral.devstack import free_port, private_stack, unique_namespace
from zigral.secrets import read_secret

__all__ = [
    "Stack",
    "booted_stack",
    "eventually",
    "free_port",
    "require",
    "services_available",
    "unique_namespace",
]

ZIGRAL = str(Path(sys.executable).with_name("zigral"))


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """``check()``'s first true value, polled every 0.5 s; AssertionError naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.5)


def require(what: str, ok: bool) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


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
    with private_stack(wait=wait, **overrides) as settings:
        yield Stack(settings)


@pytest.fixture(scope="module")
def running_stack() -> Iterator[Stack]:
    """One healthy stack shared by a test module."""
    with booted_stack() as s:
        yield s
