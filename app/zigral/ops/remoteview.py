"""Who watches the desktop: established connections to the VNC server, and the bytes it sent them.

Read from the kernel's socket table with ``ss`` (iproute2), which reports each TCP connection's
``bytes_sent``. The VNC server listens on loopback only, so every viewer is one connection from
websockify (a noVNC page) or from an SSH tunnel.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

_SENT = re.compile(r"\bbytes_sent:(\d+)")


def parse_ss(text: str) -> dict[str, int]:
    """``ss -tinH`` output -> ``{"local peer": bytes_sent}``; info lines follow their socket line."""
    out: dict[str, int] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            fields = line.split()
            # State Recv-Q Send-Q Local Peer (with a state filter, ss leaves the state column out)
            addrs = [f for f in fields if ":" in f]
            key = " ".join(addrs[:2]) if len(addrs) >= 2 else None
            if key is not None:
                out.setdefault(key, 0)
            continue
        m = _SENT.search(line)
        if m and key is not None:
            out[key] = int(m.group(1))
    return out


def vnc_connections(port: int) -> dict[str, int]:
    """Established connections to local port ``port`` with the bytes sent on each so far."""
    done = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return parse_ss(done.stdout) if done.returncode == 0 else {}


@dataclass
class SentCounter:
    """A monotonic total of bytes sent, from per-connection figures that vanish with their connection."""

    total: int = 0

    def __post_init__(self) -> None:
        self._last: dict[str, int] = {}

    def update(self, now: dict[str, int]) -> int:
        for key, sent in now.items():
            self.total += max(0, sent - self._last.get(key, 0))
        self._last = dict(now)
        return self.total
