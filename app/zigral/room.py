"""The browser's closed room: a network namespace with loopback only, and two doors through its wall.

Chromium runs in its own network namespace whose only interface is loopback, so ``[::]``, the machine's
own addresses, WebRTC UDP and whatever else a page may try have nowhere to go. The launcher (root, outside
the room) keeps two doors open with byte-for-byte bridges:

- the proxy door: ``127.0.0.1:<egress port>`` inside the room leads to squid on the same port outside;
  nothing else inside the room leads out;
- the CDP door: ``127.0.0.1:<cdp port>`` outside leads to Chromium's CDP inside, for connections whose
  socket belongs to an admitted user (root: the agents, ops, doctor); any other local user is refused.

Namespaces belong to threads: the room is made and entered by short-lived threads, never by the caller's.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from zigral.errors import StackError

log = logging.getLogger(__name__)
T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def enter(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` (in a child before exec: the process)."""
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def _in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread and return its value (its namespace changes die with it)."""
    out: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=body, name="room")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


class Room:
    """A network namespace with loopback only, kept alive by an open file descriptor."""

    def __init__(self) -> None:
        def make() -> int:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _loopback_up()
            return os.open("/proc/thread-self/ns/net", os.O_RDONLY)

        try:
            self.fd = _in_thread(make)
        except OSError as exc:
            raise StackError(
                f"could not make the browser's network namespace ({exc}); the launcher needs root "
                "(CAP_SYS_ADMIN). ZIGRAL_BROWSER__ISOLATED=false runs Chromium without it (less safe)."
            ) from None

    def interfaces(self) -> list[str]:
        def names() -> list[str]:
            enter(self.fd)
            return [name for _, name in socket.if_nameindex()]

        return _in_thread(names)

    def listen(self, port: int) -> socket.socket:
        """A listening socket on 127.0.0.1:``port`` inside the room."""

        def bind() -> socket.socket:
            enter(self.fd)
            return _listener(port)

        return _in_thread(bind)

    def connect(self, port: int) -> socket.socket:
        """A connection to 127.0.0.1:``port`` inside the room (call from a thread that may change room)."""
        enter(self.fd)
        return socket.create_connection(("127.0.0.1", port), timeout=5)


def _listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise StackError(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    sock.listen(128)
    return sock


def host_listener(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` outside the room."""
    return _listener(port)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


Pump = Callable[[socket.socket, socket.socket], None]
_MAX_HEAD = 256 * 1024


def adding_header(line: bytes) -> Pump:
    """A pump for HTTP proxy requests that gives each request the header ``line`` (and drops any
    Proxy-Authorization of its own). The proxy door uses it to sign the browser's requests for squid, which
    refuses everyone else. A CONNECT tunnel, or a body of unknown length, is passed on as it is from there
    (requests after it on the same connection go unsigned, and squid refuses them: it fails closed)."""

    def pump(src: socket.socket, dst: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = src.recv(65536)
                    if not data or len(buf) > _MAX_HEAD:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = [h for h in head.split(b"\r\n") if not h.lower().startswith(b"proxy-authorization:")]
                dst.sendall(b"\r\n".join([*lines, line]) + b"\r\n\r\n")
                fields = dict(
                    (k.strip().lower(), v.strip()) for k, _, v in (h.partition(b":") for h in lines[1:])
                )
                if (
                    lines[0].upper().startswith(b"CONNECT ")
                    or b"chunked" in fields.get(b"transfer-encoding", b"").lower()
                ):
                    if buf:
                        dst.sendall(buf)
                    _pump(src, dst)
                    return
                length = int(fields.get(b"content-length", b"0") or b"0")
                while length > 0:
                    if not buf:
                        buf = src.recv(min(65536, length))
                        if not buf:
                            return
                    body, buf = buf[:length], buf[length:]
                    dst.sendall(body)
                    length -= len(body)
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    return pump


def _bridge(client: socket.socket, connect: Callable[[], socket.socket], name: str, forward: Pump) -> None:
    with client:
        try:
            upstream = connect()
        except OSError as exc:
            log.warning("%s door: the other side does not answer (%s)", name, exc)
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            forward(client, upstream)
            back.join()


def serve(
    listener: socket.socket,
    connect: Callable[[], socket.socket],
    name: str,
    admit: Callable[[socket.socket], bool] = lambda conn: True,
    forward: Pump = _pump,
) -> threading.Thread:
    """Accept on ``listener`` forever; bridge each admitted connection to a fresh ``connect()``
    (``forward`` carries the client's bytes, a plain copy unless told otherwise)."""

    def accept_loop() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError as exc:
                log.error("%s door closed: %s", name, exc)
                return
            if not admit(client):
                log.warning("%s door: refused a connection from a user who may not use it", name)
                client.close()
                continue
            threading.Thread(target=_bridge, args=(client, connect, name, forward), daemon=True).start()

    thread = threading.Thread(target=accept_loop, name=f"{name}-door", daemon=True)
    thread.start()
    return thread


def net_namespace(pid: int | str) -> str:
    """The network namespace of a process, as the kernel names it (``net:[4026531840]``)."""
    return os.readlink(Path("/proc") / str(pid) / "ns" / "net")
