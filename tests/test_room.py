from __future__ import annotations

import os
import socket
import threading

from zigral import room


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
