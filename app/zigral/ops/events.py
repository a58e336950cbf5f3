"""Supervisor's event listener protocol, and what the events tell about each program.

The protocol (supervisor's "Event Listeners" chapter): the listener writes ``READY\\n`` on stdout; supervisor
sends a header line of ``key:value`` tokens whose ``len`` gives the payload's size; the listener answers
``RESULT 2\\nOK`` and is READY again. Nothing else may be written on stdout: logs go to stderr.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import BinaryIO

log = logging.getLogger(__name__)

STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")


def parse_tokens(line: str) -> dict[str, str]:
    """``"ver:3.0 eventname:TICK_5 len:15"`` -> ``{"ver": "3.0", ...}``."""
    out: dict[str, str] = {}
    for token in line.split():
        key, sep, value = token.partition(":")
        if sep:
            out[key] = value
    return out


@dataclass(frozen=True)
class Event:
    name: str
    headers: dict[str, str]
    payload: dict[str, str]


class Protocol:
    """One listener's side of the conversation with supervisord."""

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self.stdin = stdin
        self.stdout = stdout

    def _write(self, data: bytes) -> None:
        self.stdout.write(data)
        self.stdout.flush()

    def next(self) -> Event | None:
        """Say READY and wait for the next event; None when supervisord closed our stdin."""
        self._write(b"READY\n")
        line = self.stdin.readline()
        if not line:
            return None
        headers = parse_tokens(line.decode())
        body = self.stdin.read(int(headers.get("len", "0"))).decode()
        # PROCESS_STATE payloads are one line of tokens; PROCESS_COMMUNICATION ones add data after it.
        first = body.split("\n", 1)[0]
        return Event(headers.get("eventname", ""), headers, parse_tokens(first))

    def ok(self) -> None:
        self._write(b"RESULT 2\nOK")


@dataclass
class Program:
    name: str
    state: str = "UNKNOWN"
    since: float = field(default_factory=time.time)
    pid: int = 0
    ran: bool = False  # seen RUNNING (or being stopped) in the events
    restarts: int = 0
    unexpected_exits: int = 0
    exits: deque[float] = field(default_factory=deque)
    crash_looping: bool = False


class ProgramTracker:
    """Each program's state, time in state, restarts and crash loops, from PROCESS_STATE events.

    Programs are named as supervisorctl names them: ``name``, or ``group:name`` inside a group.
    """

    def __init__(self, loop_restarts: int, loop_window: float) -> None:
        self.loop_restarts = loop_restarts
        self.loop_window = loop_window
        self.programs: dict[str, Program] = {}
        self.alerts: list[str] = []  # every alert line, also logged

    @staticmethod
    def full_name(name: str, group: str) -> str:
        return name if not group or group == name else f"{group}:{name}"

    def seed(self, infos: list[dict[str, object]], now: float | None = None) -> None:
        """Start from supervisor's getAllProcessInfo (a listener that restarts missed earlier events)."""
        for info in infos:
            name = self.full_name(str(info["name"]), str(info["group"]))
            p = self.programs.setdefault(name, Program(name))
            p.state = str(info["statename"])
            p.pid = int(str(info.get("pid") or 0))
            start = float(str(info.get("start") or 0))
            p.since = start if p.state == "RUNNING" and start else (now or time.time())

    def handle(self, event: Event, now: float | None = None) -> str | None:
        """Apply one event; returns the program's name if it was a state change."""
        if not event.name.startswith("PROCESS_STATE_"):
            return None
        now = time.time() if now is None else now
        new = event.name.removeprefix("PROCESS_STATE_")
        pl = event.payload
        name = self.full_name(pl.get("processname", "?"), pl.get("groupname", ""))
        p = self.programs.setdefault(name, Program(name))
        p.state, p.since = new, now
        if "pid" in pl:
            p.pid = int(pl["pid"]) if new in ("RUNNING", "STARTING", "STOPPING") else 0
        if new in ("RUNNING", "STOPPING"):
            p.ran = True
        if new == "STARTING":
            # A start after an exit, a backoff or a fatal end is a restart; after STOPPED only if it had
            # run (a first start comes from STOPPED too).
            came = pl.get("from_state")
            if came in ("EXITED", "BACKOFF", "FATAL") or (came == "STOPPED" and p.ran):
                p.restarts += 1
        elif new in ("EXITED", "BACKOFF") and not (new == "EXITED" and pl.get("expected") == "1"):
            if new == "EXITED" or pl.get("from_state") == "STARTING":
                p.unexpected_exits += 1
                p.exits.append(now)
        elif new == "FATAL":
            self._alert(f"program {name} is FATAL: supervisor gave up starting it")
        looping = self._in_loop(p, now)
        if looping and not p.crash_looping:
            self._alert(
                f"program {name} is crash looping: {len(p.exits)} unexpected exits in {self.loop_window:.0f}s"
            )
        p.crash_looping = looping
        return name

    def refresh(self, now: float) -> None:
        """Let old exits age out of the crash-loop window (called on TICK events)."""
        for p in self.programs.values():
            p.crash_looping = self._in_loop(p, now)

    def _in_loop(self, p: Program, now: float) -> bool:
        """Forget the exits older than the window; are there enough left to call it a crash loop?"""
        while p.exits and p.exits[0] < now - self.loop_window:
            p.exits.popleft()
        return len(p.exits) >= self.loop_restarts

    def _alert(self, text: str) -> None:
        self.alerts.append(text)
        log.error("ALERT %s", text)
