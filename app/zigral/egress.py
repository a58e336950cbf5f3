"""The egress policy, rendered for squid from the Settings: what the browser may reach, and through whom."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psutil

from zigral.config import Settings
from zigral.errors import ConfigError


def allow_lines(settings: Settings) -> tuple[str, str]:
    """squid ``acl`` lines and ``http_access allow`` rules for ``runtime.allow_private``."""
    acls, rules = [], []
    for i, entry in enumerate(settings.runtime.allow_private):
        name = f"allow_{i}"
        host, port = entry, None
        if entry.count(":") == 1:  # host:port (an IPv6 CIDR has more colons)
            host, _, port_text = entry.partition(":")
            if not port_text.isdigit():
                raise ConfigError(f"ZIGRAL_RUNTIME__ALLOW_PRIVATE entry {entry!r}: the port is not a number")
            port = int(port_text)
        try:
            ipaddress.ip_network(host, strict=False)
            acls.append(f"acl {name} dst {host}")
        except ValueError:
            acls.append(f"acl {name} dstdomain {host}")
        if port is not None:
            acls.append(f"acl {name}_port port {port}")
            rules.append(f"http_access allow from_browser {name} {name}_port")
        else:
            rules.append(f"http_access allow from_browser {name}")
    if not acls:
        return "# (none)", "# (none allowed)"
    return "\n".join(acls), "\n".join(rules)


def upstream_lines(settings: Settings) -> str:
    """``cache_peer`` for the user's upstream proxy, with its credentials, and ``never_direct``."""
    url = settings.egress.upstream()
    if not url:
        return "# (none: requests go direct)"
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ConfigError(
            "the upstream proxy must be http://[user:password@]host:port (ZIGRAL_EGRESS__UPSTREAM_URL)"
        )
    login = ""
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
        if any(c in user + password for c in " \t\n\"'"):
            raise ConfigError(
                "the upstream proxy's user or password contains a space or a quote, which squid refuses"
            )
        login = f" login={user}:{password}"
    peer = f"cache_peer {parts.hostname} parent {parts.port} 0 no-query no-digest default name=upstream"
    return f"{peer}{login}\nnever_direct allow all"


DOOR_USER = "zigral-door"  # the proxy door's name at squid: the browser's requests, signed by its launcher


def door_password_file(settings: Settings) -> Path:
    """The door's password in plain text (root, 0600): the launcher signs the browser's requests with it."""
    return settings.paths.secrets_dir / "egress-door.password"


def door_passwd_file(settings: Settings) -> Path:
    """Its hash for squid's basic_ncsa_auth helper, which runs as squid's user (0640 root:proxy)."""
    return settings.paths.state_dir / "egress-door.passwd"


def door_lines(settings: Settings) -> str:
    """squid's client authentication: only requests signed by the proxy door (the browser's) are served.

    Without the browser's closed room there is no door: Chromium talks to squid directly and cannot sign.
    """
    if not settings.browser.isolated:
        return (
            "# (ZIGRAL_BROWSER__ISOLATED=false: no door; any local user may use this proxy)\nacl door src all"
        )
    helper = "/usr/lib/squid/basic_ncsa_auth"
    return "\n".join(
        [
            f"auth_param basic program {helper} {door_passwd_file(settings)}",
            "auth_param basic children 2 startup=1 idle=1",
            "auth_param basic realm zigral-egress",
            "auth_param basic credentialsttl 1 hour",
            f"acl door proxy_auth {DOOR_USER}",
        ]
    )


def own_addresses() -> list[str]:
    """Every address of this machine's interfaces (eth0's, a public one, a bridge's), read at render time.

    Connecting to one of them reaches every service listening on 0.0.0.0 or [::], so the proxy refuses them
    like loopback. Link-local scope ids (``fe80::1%eth0``) are dropped: squid matches the bare address.
    """
    found: set[str] = set()
    for addresses in psutil.net_if_addrs().values():
        for addr in addresses:
            if addr.family.name in ("AF_INET", "AF_INET6"):
                found.add(str(ipaddress.ip_address(addr.address.split("%", 1)[0])))
    return sorted(found, key=lambda a: (":" in a, a))


def template_values(settings: Settings) -> dict[str, str]:
    acls, rules = allow_lines(settings)
    own = own_addresses()
    return {
        "egress_door": door_lines(settings),
        "egress_own_addresses": " ".join(own) if own else "127.0.0.1",
        "egress_port": str(settings.egress.port),
        "egress_stack_ports": " ".join(str(p) for p in settings.stack_ports()),
        "egress_allow_acls": acls,
        "egress_allow_rules": rules,
        "egress_upstream": upstream_lines(settings),
    }


def upstream_address(settings: Settings) -> tuple[str, int] | None:
    url = settings.egress.upstream()
    if not url:
        return None
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 0
