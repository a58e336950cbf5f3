"""Talk to this stack's supervisord over its unix socket, and start or stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from zigral.config import Settings
from zigral.errors import StackError


def call(settings: Settings, method: str, *args: Any) -> Any:
    """Call one of supervisord's XML-RPC methods (``"getAllProcessInfo"`` ...) over its unix socket."""
    transport = SupervisorTransport(None, None, serverurl=f"unix://{settings.paths.supervisor_socket}")
    try:
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        return getattr(proxy.supervisor, method)(*args)
    finally:
        transport.close()


def is_running(settings: Settings) -> bool:
    try:
        state = call(settings, "getState")
    except (OSError, xmlrpc.client.Error):
        return False
    return cast(int, state["statecode"]) == 1  # RUNNING


def process_states(settings: Settings) -> dict[str, str]:
    """``{"group:name" or "name": "RUNNING" | "STARTING" | "FATAL" ...}``."""
    try:
        infos = call(settings, "getAllProcessInfo")
    except (OSError, xmlrpc.client.Error) as exc:
        raise StackError(
            f"supervisord at {settings.paths.supervisor_socket} does not answer: {exc}"
        ) from None
    out: dict[str, str] = {}
    for info in infos:
        name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
        out[name] = info["statename"]
    return out


def pid_of(settings: Settings, name: str) -> int:
    return cast(int, call(settings, "getProcessInfo", name)["pid"])


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def ctl(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``supervisorctl`` against this stack."""
    argv = [_bin("supervisorctl"), "-c", str(settings.paths.supervisor_conf), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def start(settings: Settings) -> None:
    """Start supervisord (it daemonizes), or apply a changed configuration to a running one."""
    if is_running(settings):
        ctl(settings, "update")
        ctl(settings, "start", "all")
        return
    argv = [_bin("supervisord"), "-c", str(settings.paths.supervisor_conf)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(f"supervisord failed to start: {done.stderr.strip() or done.stdout.strip()}")


def stop(settings: Settings, timeout: float = 60.0) -> bool:
    """Shut supervisord down and wait until its process is gone. False if it was not running."""
    pidfile = settings.paths.supervisor_pidfile
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        pid = 0
    if not is_running(settings):
        return False
    call(settings, "shutdown")
    deadline = time.monotonic() + timeout
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    if pid:
        raise StackError(f"supervisord pid {pid} still running after {timeout:.0f}s")
    return True
