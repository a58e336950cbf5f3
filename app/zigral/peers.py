"""Who is at the other end of a TCP connection made on this machine: the owner of the peer's socket.

Unix sockets have SO_PEERCRED; loopback TCP has nothing of the kind, but the kernel lists every socket of a
network namespace, with the uid that created it, in ``/proc/thread-self/net/tcp`` and ``tcp6``. The peer's
socket is the row whose local address is our remote one and whose remote address is our local one. The
uid is the creator's and cannot be changed afterwards, so a user cannot pass for another.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path

_TABLES = {socket.AF_INET: "tcp", socket.AF_INET6: "tcp6"}


def _hex_address(host: str, port: int) -> str:
    """An address as ``/proc/net/tcp`` writes it: 32-bit words in host byte order, then the port."""
    packed = ipaddress.ip_address(host.split("%", 1)[0]).packed
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def peer_uid(conn: socket.socket, proc_net: Path = Path("/proc/thread-self/net")) -> int | None:
    """The uid owning the other end of ``conn``, or ``None`` when it is not a socket of this machine."""
    try:
        local = conn.getsockname()
        remote = conn.getpeername()
        table = (proc_net / _TABLES[conn.family]).read_text()
    except (OSError, KeyError):
        return None
    theirs_local = _hex_address(remote[0], remote[1])
    theirs_remote = _hex_address(local[0], local[1])
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and fields[1] == theirs_local and fields[2] == theirs_remote:
            return int(fields[7])
    return None


def uid_allowed(conn: socket.socket, uids: frozenset[int]) -> bool:
    """True when the peer of ``conn`` is a process of one of ``uids`` on this machine."""
    uid = peer_uid(conn)
    return uid is not None and uid in uids
