from __future__ import annotations

import os
import socket
import threading

import pytest

from zigral import room

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, another uid)")


def test_the_room_has_loopback_only_and_its_doors_carry_bytes_both_ways() -> None:
    closed = room.Room()
    assert closed.interfaces() == ["lo"]
    assert os.readlink(f"/proc/self/fd/{closed.fd}") != room.net_namespace("self")

    # An echo server inside the room, reached from outside only through a door.
    inside = closed.listen(0)
    port = inside.getsockname()[1]

    def echo() -> None:
        conn, _ = inside.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data.upper())

    threading.Thread(target=echo, daemon=True).start()
    with socket.socket() as outside:  # the same port outside the room reaches nothing
        assert outside.connect_ex(("127.0.0.1", port)) != 0
    door = room.host_listener(0)
    room.serve(door, lambda: closed.connect(port), "test")
    with socket.create_connection(door.getsockname()) as client:
        client.sendall(b"hello")
        client.shutdown(socket.SHUT_WR)
        assert client.recv(1024) == b"HELLO"
    for listener in (door, inside):
        close(listener)
    os.close(closed.fd)


def close(listener: socket.socket) -> None:
    listener.shutdown(socket.SHUT_RDWR)  # wakes the door's accept
    listener.close()


def test_a_door_refuses_a_connection_it_does_not_admit() -> None:
    door = room.host_listener(0)
    room.serve(door, lambda: socket.create_connection(("127.0.0.1", 9)), "test", admit=lambda conn: False)
    with socket.create_connection(door.getsockname(), timeout=5) as client:
        assert client.recv(1024) == b""  # closed at once, nothing bridged
    close(door)


def test_the_proxy_door_signs_every_request_and_passes_a_tunnel_untouched() -> None:
    squid = socket.create_server(("127.0.0.1", 0))
    door = room.host_listener(0)
    room.serve(
        door,
        lambda: socket.create_connection(squid.getsockname()),
        "test",
        forward=room.adding_header(b"Proxy-Authorization: Basic ZG9vcg=="),
    )
    with socket.create_connection(door.getsockname()) as browser:
        browser.sendall(
            b"POST http://a/x HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic Zm9yZ2Vk\r\n"
            b"Content-Length: 5\r\n\r\n"
            b"hello"
            b"GET http://a/y HTTP/1.1\r\nHost: a\r\n\r\n"
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01 GET http://a/z HTTP/1.1\r\n\r\n"
        )
        browser.shutdown(socket.SHUT_WR)
        conn, _ = squid.accept()
        with conn:
            received = b""
            while data := conn.recv(65536):
                received += data
    assert received == (
        b"POST http://a/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Proxy-Authorization: Basic ZG9vcg==\r\n\r\n"
        b"hello"
        b"GET http://a/y HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic ZG9vcg==\r\n\r\n"
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nProxy-Authorization: Basic ZG9vcg==\r\n\r\n"
        b"\x16\x03\x01 GET http://a/z HTTP/1.1\r\n\r\n"  # inside the tunnel: not touched
    )
    close(door)
    squid.close()
