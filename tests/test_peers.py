from __future__ import annotations

import os
import socket
import subprocess

import pytest

from zigral.peers import peer_uid, uid_allowed

SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's may sit where another user cannot go

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, another uid)")


def test_the_owner_of_a_loopback_connection_is_read_from_the_kernel() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            conn, _ = server.accept()
            with conn:
                assert peer_uid(conn) == os.geteuid()
                assert uid_allowed(conn, frozenset({os.geteuid()}))
                assert not uid_allowed(conn, frozenset({65534}))


def test_a_connection_from_another_user_carries_that_users_uid() -> None:
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as server:
        port = server.getsockname()[1]
        code = f"import socket,time; s=socket.create_connection(('::1', {port})); s.recv(1)"
        client = subprocess.Popen([SYSTEM_PYTHON, "-c", code], user=65534, group=65534, extra_groups=[])
        try:
            conn, _ = server.accept()
            with conn:
                assert peer_uid(conn) == 65534
                assert not uid_allowed(conn, frozenset({0}))
        finally:
            client.kill()
            client.wait()
