"""``zigral doctor``: check every part of the stack for real and print a verdict."""

from __future__ import annotations

import functools
import hashlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis

from zigral import broker, egress, probes, room, state, supervision, tls, xauth
from zigral.config import Settings
from zigral.errors import BrokerError, NotReady, StackError
from zigral.secrets import read_secret


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _supervisor(settings: Settings) -> str:
    states = supervision.process_states(settings)
    bad = {name: state for name, state in states.items() if state != "RUNNING"}
    if bad:
        raise NotReady(", ".join(f"{name} {state}" for name, state in sorted(bad.items())))
    return f"{len(states)} programs RUNNING"


def _cdp(settings: Settings) -> str:
    return probes.cdp_version(settings.browser.cdp_port)["Browser"]


def _web_credentials(settings: Settings) -> tuple[str, str]:
    return settings.web.user, read_secret(settings.paths.web_password_file)


def web_tls(settings: Settings) -> ssl.SSLContext:
    """A context for the stack's own web port: the certificate is checked by fingerprint (``_tls``), so
    that a self-signed one and an operator's one issued for another name are probed alike."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _tls(settings: Settings) -> str:
    """nginx presents the configured certificate, and plain HTTP gets only a redirect to HTTPS."""
    cert, _ = tls.cert_key(settings)
    expected = tls.fingerprint(cert)
    with (
        socket.create_connection(("127.0.0.1", settings.web.port), timeout=3) as raw,
        web_tls(settings).wrap_socket(raw) as sock,
    ):
        der = sock.getpeercert(binary_form=True) or b""
        version = sock.version()
    digest = hashlib.sha256(der).hexdigest().upper()
    presented = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    if presented != expected:
        raise NotReady(f"nginx presents {presented[:23]}..., not {cert} ({expected[:23]}...)")
    plain = probes.http_status(f"http://127.0.0.1:{settings.web.port}/")
    if plain != 301:
        raise NotReady(f"plain HTTP answered {plain}, not a 301 redirect to HTTPS")
    return f"{version}, certificate SHA-256 {expected}; plain HTTP redirected"


def _nginx_auth(settings: Settings) -> str:
    url = f"https://127.0.0.1:{settings.web.port}/"
    anonymous = probes.http_status(url, tls=web_tls(settings))
    if anonymous != 401:
        raise NotReady(f"without credentials {url} answered {anonymous}, not 401")
    authed = probes.http_status(url, auth=_web_credentials(settings), tls=web_tls(settings))
    if authed != 200:
        raise NotReady(f"with credentials {url} answered {authed}")
    return "401 without credentials, 200 with"


def _nginx_websocket(settings: Settings) -> str:
    port = settings.web.port
    ws = functools.partial(
        probes.websocket_upgrade,
        "127.0.0.1",
        port,
        "/websockify",
        _web_credentials(settings),
        tls=web_tls(settings),
    )
    foreign = ws(origin="https://elsewhere.example")
    if foreign != 403:
        raise NotReady(f"a WebSocket from another origin answered {foreign}, not 403")
    status = ws(origin=f"https://127.0.0.1:{port}")
    if status != 101:
        raise NotReady(f"WebSocket upgrade through nginx answered {status}, not 101")
    return "101 Switching Protocols to websockify; another origin refused"


def _status_page(settings: Settings) -> str:
    """The ops listener answers, on loopback and through nginx (the status page's data)."""
    metrics = probes.http_status(f"http://127.0.0.1:{settings.metrics.ops_port}/metrics")
    if metrics != 200:
        raise NotReady(f"the ops exporter answered {metrics} on /metrics")
    url = f"https://127.0.0.1:{settings.web.port}/status.json"
    status = probes.http_status(url, auth=_web_credentials(settings), tls=web_tls(settings))
    if status != 200:
        raise NotReady(f"{url} answered {status} through nginx")
    return "/metrics on loopback, /status/ through nginx"


def _redis(settings: Settings) -> str:
    client = state.connect(settings)  # a plain URL or a Sentinel's
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except redis.RedisError as exc:
        raise NotReady(f"Redis: {exc}") from None
    finally:
        client.close()
    return f"PING ok (Redis {version})"


def _rabbitmq(settings: Settings) -> str:
    try:
        conn = broker.connect(settings, heartbeat=0)  # the first node of a list that answers
    except BrokerError as exc:
        raise NotReady(str(exc)) from None
    props = conn._impl.server_properties
    conn.close()
    version = props.get("version", b"?")
    return f"connected (RabbitMQ {version.decode() if isinstance(version, bytes) else version})"


def _egress(settings: Settings) -> str:
    if not settings.egress.enabled:
        return "disabled (ZIGRAL_EGRESS__ENABLED=false): the browser goes direct"
    port = settings.egress.port
    probes.tcp(port)
    # The policy is loaded when the proxy refuses the stack's own CDP port, even to the browser's door.
    cdp = f"http://127.0.0.1:{settings.browser.cdp_port}/json/version"
    door = None
    if settings.browser.isolated:
        door = (egress.DOOR_USER, read_secret(egress.door_password_file(settings)))
        anonymous, _, _ = probes.via_proxy(cdp, port)
        if anonymous != 407:
            raise NotReady(
                f"the proxy answered {anonymous}, not 407, to a request without the door's password"
            )
    status, headers, _ = probes.via_proxy(cdp, port, auth=door)
    if status != 403 or not headers.get("X-Squid-Error", "").startswith("ERR_ACCESS_DENIED"):
        raise NotReady(f"the proxy let a request to the CDP port through (HTTP {status}): policy not loaded")
    who = "the browser's door only" if door else "any local user (browser not isolated)"
    parts = [f"proxy up on 127.0.0.1:{port} for {who}, policy loaded (internal targets refused)"]
    upstream = egress.upstream_address(settings)
    if upstream is not None:
        probes.tcp(upstream[1], host=upstream[0])
        parts.append(f"upstream {upstream[0]}:{upstream[1]} reachable")
    if settings.egress.ip_echo_url:
        status, _, body = probes.via_proxy(settings.egress.ip_echo_url, port, timeout=10, auth=door)
        if status != 200:
            raise NotReady(f"IP echo {settings.egress.ip_echo_url} answered {status} through the proxy")
        parts.append(f"public IP {body.decode(errors='replace').strip()[:64]}")
    return "; ".join(parts)


def _display_auth(settings: Settings) -> str:
    """The display answers its cookie and refuses a client without it (any other local user)."""
    detail = probes.x_display(settings.display.socket_path, cookie=xauth.read_cookie(settings))
    try:
        probes.x_display(settings.display.socket_path)
    except NotReady:
        return f"{detail}; a client without the cookie is refused"
    raise NotReady("the X display accepts clients without its cookie (Xvfb without -auth)")


def _isolation(settings: Settings) -> str:
    """Chromium runs in its own network namespace with loopback only; CDP is a door for root."""
    if not settings.browser.isolated:
        return "off (ZIGRAL_BROWSER__ISOLATED=false): Chromium shares this machine's network"
    try:
        launcher = psutil.Process(supervision.pid_of(settings, "chromium"))
        browsers = [p for p in launcher.children() if p.name() in ("chromium", "chrome")]
    except psutil.Error as exc:
        raise NotReady(f"Chromium's launcher: {exc}") from None
    if not browsers:
        raise NotReady("Chromium is not running under its launcher")
    ns = room.net_namespace(browsers[0].pid)
    if ns == room.net_namespace("self"):
        raise NotReady("Chromium shares this machine's network namespace")
    devices = Path(f"/proc/{browsers[0].pid}/net/dev").read_text().splitlines()[2:]
    names = sorted(line.split(":", 1)[0].strip() for line in devices)
    if names != ["lo"]:
        raise NotReady(f"Chromium's network namespace has interfaces {names}, not loopback alone")
    return f"Chromium in {ns} (loopback only); proxy and CDP through its launcher's doors"


CHECKS: list[tuple[str, Callable[[Settings], str]]] = [
    ("supervisor", _supervisor),
    ("X display", _display_auth),
    ("x11vnc", lambda s: probes.rfb_banner(s.vnc.port)),
    ("chromium CDP", _cdp),
    ("browser isolation", _isolation),
    ("websockify", lambda s: probes.tcp(s.web.websockify_port)),
    ("egress proxy", _egress),
    ("web TLS", _tls),
    ("nginx auth", _nginx_auth),
    ("noVNC WebSocket", _nginx_websocket),
    ("ops + status page", _status_page),
    ("redis", _redis),
    ("rabbitmq", _rabbitmq),
]


def run_checks(settings: Settings) -> list[Check]:
    results = []
    for name, check in CHECKS:
        try:
            results.append(Check(name, True, check(settings)))
        except (NotReady, StackError, OSError) as exc:
            results.append(Check(name, False, str(exc)))
    return results


def format_table(results: list[Check]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{r.name:<{width}}  {'ok  ' if r.ok else 'FAIL'}  {r.detail}" for r in results]
    failed = [r.name for r in results if not r.ok]
    verdict = "healthy: every part answers" if not failed else f"UNHEALTHY: {', '.join(failed)}"
    return "\n".join([*lines, "", verdict])
