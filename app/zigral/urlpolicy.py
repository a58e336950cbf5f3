"""The URL policy every navigation passes: http(s) only, no internal targets unless explicitly allowed.

This is the first, friendly check. It resolves the host and judges every address it resolves to, so
``localhost``, ``2130706433``, ``0x7f000001`` and ``[::ffff:127.0.0.1]`` are all seen as loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from zigral import egress
from zigral.config import Settings
from zigral.errors import Rejected, Retryable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _internal(addr: IPAddress) -> str | None:
    """Why ``addr`` is internal, or None for a public address."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(addr, f"is_{name}"):
            return name.replace("_", "-")
    if not addr.is_global:
        return "non-global"
    return None


@dataclass(frozen=True)
class UrlPolicy:
    """Judges URLs for one agent."""

    allow_private: tuple[str, ...] = ()  # host, host:port or CIDR
    allowed_hosts: tuple[str, ...] = ()  # when non-empty, only these hosts and their subdomains
    denied_ports: frozenset[int] = field(default_factory=frozenset)  # the stack's own ports
    # This machine's interface addresses (a public one too): they reach every service on 0.0.0.0.
    local_addresses: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings, agent: str) -> UrlPolicy:
        """The policy of one agent: the operator's allowlist, the agent's hosts, never the stack's ports."""
        return cls(
            allow_private=tuple(settings.runtime.allow_private),
            allowed_hosts=tuple(settings.runtime.allowed_hosts.get(agent, ())),
            denied_ports=frozenset(settings.stack_ports()),
            local_addresses=frozenset(egress.own_addresses()),
        )

    def check(self, url: str) -> str:
        """Return the URL when allowed; raise :class:`Rejected` naming the reason otherwise."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Rejected(f"URL refused: {url!r} is not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https"):
            raise Rejected(
                f"URL refused: scheme {parts.scheme or '(none)'!r} of {url!r}; only http and https"
            )
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise Rejected(f"URL refused: {url!r} has no host")
        port = port or (443 if parts.scheme == "https" else 80)
        if self.allowed_hosts and not any(host == h or host.endswith("." + h) for h in self.allowed_hosts):
            raise Rejected(f"URL refused: host {host!r} is not in this agent's allowed hosts")
        if self._explicitly_allowed(host, port, ()):
            return url
        addresses = self._resolve(host, port, url)
        for addr in addresses:
            reason = _internal(addr)
            if reason is None and str(addr) in self.local_addresses:
                reason = "this machine's own"
            if reason is None:
                continue
            if port in self.denied_ports:
                raise Rejected(f"URL refused: port {port} of {url!r} belongs to the stack itself")
            if not self._explicitly_allowed(host, port, (addr,)):
                raise Rejected(f"URL refused: {url!r} resolves to {reason} address {addr}")
        return url

    def _explicitly_allowed(self, host: str, port: int, addrs: tuple[IPAddress, ...]) -> bool:
        if port in self.denied_ports:
            return False
        for entry in self.allow_private:
            entry = entry.lower()
            if entry in (host, f"{host}:{port}"):
                return True
            try:
                net: IPNetwork = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if any(a in net for a in addrs):
                return True
        return False

    @staticmethod
    def _resolve(host: str, port: int, url: str) -> list[IPAddress]:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            # Name resolution can fail for a while (resolver down): worth another attempt.
            raise Retryable(f"host of {url!r} does not resolve ({exc})") from None
        out: list[IPAddress] = []
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            out.append(ipaddress.ip_address(text))
        return out
