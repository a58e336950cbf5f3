"""Real checks of each part of the stack, shared by the launchers (wait until ready) and ``zigral doctor``.

Each probe returns a short detail on success and raises :class:`NotReady` with the reason otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from zigral.errors import NotReady

T = TypeVar("T")


def x_display(socket_path: Path, timeout: float = 2.0, cookie: bytes | None = None) -> str:
    """Open an X11 connection on the display's socket and read the server's setup reply.

    With ``cookie`` the setup carries it (MIT-MAGIC-COOKIE-1); without, it asks for no authorization.
    """
    name = b"MIT-MAGIC-COOKIE-1" if cookie else b""
    data = cookie or b""
    # Connection setup: little-endian, protocol 11.0, the authorization's name and data, each padded to 4.
    setup = b"l\0" + struct.pack("<HHHH", 11, 0, len(name), len(data)) + b"\0\0"
    setup += name + b"\0" * (-len(name) % 4) + data + b"\0" * (-len(data) % 4)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(setup)
            head = sock.recv(8)
    except OSError as exc:
        raise NotReady(f"X display {socket_path}: {exc}") from None
    if len(head) < 8 or head[0] != 1:
        raise NotReady(f"X display {socket_path} refused the connection")
    major, minor = struct.unpack("<HH", head[2:6])
    return f"X{major}.{minor} server answers"


def tcp(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return f"{host}:{port} accepts connections"
    except OSError as exc:
        raise NotReady(f"{host}:{port}: {exc}") from None


def rfb_banner(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> str:
    """Read the VNC server's RFB protocol banner."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            banner = sock.recv(12)
    except OSError as exc:
        raise NotReady(f"VNC {host}:{port}: {exc}") from None
    if not banner.startswith(b"RFB "):
        raise NotReady(f"VNC {host}:{port} sent {banner!r}, not an RFB banner")
    return banner.decode().strip()


def cdp_version(port: int, timeout: float = 2.0) -> dict[str, str]:
    """Chromium's DevTools ``/json/version``."""
    url = f"http://127.0.0.1:{port}/json/version"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data: dict[str, str] = json.load(resp)
    except (OSError, ValueError) as exc:
        raise NotReady(f"CDP {url}: {exc}") from None
    if "webSocketDebuggerUrl" not in data:
        raise NotReady(f"CDP {url} answered without webSocketDebuggerUrl")
    return data


def http_status(
    url: str, auth: tuple[str, str] | None = None, timeout: float = 3.0, tls: ssl.SSLContext | None = None
) -> int:
    """The HTTP status code of a GET (errors included, redirects not followed), or NotReady if nothing
    answers. ``tls``: the context an https URL is checked with."""
    req = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=tls))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # its connection (a TLS socket warns when left to the collector)
        return int(exc.code)
    except OSError as exc:
        raise NotReady(f"{url}: {exc}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the caller sees the 301 itself


def via_proxy(
    url: str, proxy_port: int, timeout: float = 5.0, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` through the HTTP proxy on 127.0.0.1:``proxy_port`` (as ``auth`` = user, password):
    status, headers, body."""
    login = "" if auth is None else f"{urllib.parse.quote(auth[0])}:{urllib.parse.quote(auth[1])}@"
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://{login}127.0.0.1:{proxy_port}"})
    )
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status), dict(resp.headers), resp.read(4096)
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers), exc.read(4096)
    except OSError as exc:
        raise NotReady(f"{url} through the proxy on port {proxy_port}: {exc}") from None


def websocket_upgrade(
    host: str,
    port: int,
    path: str,
    auth: tuple[str, str] | None = None,
    timeout: float = 3.0,
    tls: ssl.SSLContext | None = None,
    origin: str | None = None,
) -> int:
    """Send a WebSocket upgrade request (over TLS with ``tls``) and return the answer's HTTP status."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: binary",
    ]
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        lines.append(f"Authorization: Basic {token}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            tls.wrap_socket(raw, server_hostname=host)
            if tls is not None
            else contextlib.nullcontext(raw) as sock,
        ):
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError as exc:
        raise NotReady(f"WebSocket {host}:{port}{path}: {exc}") from None
    try:
        return int(status_line.split()[1])
    except (IndexError, ValueError):
        raise NotReady(f"WebSocket {host}:{port}{path}: bad status line {status_line!r}") from None


def wait_for(probe: Callable[[], T], what: str, timeout: float, interval: float = 0.2) -> T:
    """Call ``probe`` until it stops raising NotReady, or raise NotReady after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except NotReady as exc:
            if time.monotonic() >= deadline:
                raise NotReady(f"{what} not ready after {timeout:.0f}s: {exc}") from None
        time.sleep(interval)
