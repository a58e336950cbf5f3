"""The egress wall: a real squid in front of the real Chromium, canary listeners on loopback that must stay
silent, and a second squid with basic auth as the user's upstream proxy."""

from __future__ import annotations

import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.sync_api import sync_playwright
from pydantic import SecretStr

from zigral import probes, supervision
from zigral.client import Client
from zigral.config import load_settings
from zigral.egress import own_addresses
from zigral.messages import Command, Result
from zigral.render import render
from zigral.state import TaskStore
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, free_port, require, services_available

pytestmark = pytest.mark.integration

UPSTREAM_USER, UPSTREAM_PASSWORD = "zig", "upstream-Pa55word"


class Canary:
    """HTTP listeners on every address (0.0.0.0 and [::]: loopback, the interfaces) counting every request."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = free_port()
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.hits.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"canary")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class V6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6

            def server_bind(self) -> None:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                super().server_bind()

        self.servers = [  # every IPv4 and every IPv6 address of this machine
            ThreadingHTTPServer(("0.0.0.0", self.port), Handler),
            V6Server(("::", self.port), Handler),
        ]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with serve() as server:
        server.page("/ok", "<title>Allowed</title><h1>An allowed page</h1>")

        @server.route("/redirect")
        def redirect(req: Any) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": req.query.removeprefix("to=")}, b""

        @server.route("/meta")
        def meta(req: Any) -> tuple[int, dict[str, str], bytes]:
            target = req.query.removeprefix("to=")
            html = f'<title>meta</title><meta http-equiv="refresh" content="0.5; url={target}">'
            return 200, {"Content-Type": "text/html"}, html.encode()

        @server.route("/js")
        def js(req: Any) -> tuple[int, dict[str, str], bytes]:
            target = req.query.removeprefix("to=")
            html = f"""<title>js</title><img src="{target}img">
<script>fetch("{target}fetch").catch(() => {{}}); new Image().src = "{target}image";</script>"""
            return 200, {"Content-Type": "text/html"}, html.encode()

        yield server


@pytest.fixture(scope="module")
def walled(site: FixtureServer) -> Iterator[Stack]:
    require("squid", shutil.which("squid") is not None)
    services_available(load_settings())
    with booted_stack(runtime={"allow_private": [f"127.0.0.1:{site.port}"]}) as stack:
        yield stack


def targets(canary: Canary) -> list[str]:
    p = canary.port
    return [
        f"http://127.0.0.1:{p}/",
        f"http://localhost:{p}/",
        f"http://127.0.0.2:{p}/",
        f"http://2130706433:{p}/",
        f"http://0x7f000001:{p}/",
        f"http://[::1]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",
        f"http://[::]:{p}/",  # the unspecified address connects to this machine
        f"http://0.0.0.0:{p}/",
        *(f"http://{host}:{p}/" for host in interface_hosts()),
    ]


def interface_hosts() -> list[str]:
    """This machine's own non-loopback addresses as URL hosts (eth0's; on a cloud VM, the public one)."""
    hosts = []
    for address in own_addresses():
        ip = ipaddress.ip_address(address)
        if not ip.is_loopback and not ip.is_link_local:
            hosts.append(f"[{ip}]" if ip.version == 6 else str(ip))
    return hosts


def run(stack: Stack, action: str, **params: Any) -> Result:
    with Client(stack.settings) as client:
        return client.call(Command(agent="lincoln", action=action, params=params), timeout=120)


def test_an_allowed_fixture_page_loads_through_the_proxy(walled: Stack, site: FixtureServer) -> None:
    result = run(walled, "navigate", url=site.url("/ok"))
    assert result.status == "succeeded" and result.result["title"] == "Allowed"
    access = (walled.settings.paths.log_dir / "squid" / "access.log").read_text()
    assert f"http://127.0.0.1:{site.port}/ok" in access  # it really went through the proxy


def test_the_canary_hears_nothing_when_the_agent_is_told_to_open_it(walled: Stack, canary: Canary) -> None:
    for url in targets(canary):
        result = run(walled, "navigate", url=url)
        assert result.status == "rejected", (url, result)
    assert canary.hits == []


def test_redirects_and_page_requests_to_internal_targets_never_arrive(
    walled: Stack, site: FixtureServer, canary: Canary
) -> None:
    for url in targets(canary):
        redirected = run(walled, "navigate", url=site.url(f"/redirect?to={url}"))
        assert redirected.status == "rejected" and "egress proxy refused" in (redirected.error or ""), (
            redirected
        )
        for page in ("/meta", "/js"):
            loaded = run(walled, "navigate", url=site.url(f"{page}?to={url}"))
            assert loaded.status == "succeeded", loaded
            assert run(walled, "sleep", seconds=1.5).status == "succeeded"  # the refresh and scripts run
    assert canary.hits == []
    denied = (walled.settings.paths.log_dir / "squid" / "access.log").read_text().count("TCP_DENIED")
    assert denied >= 3 * len(targets(canary))


def test_a_redirect_to_a_local_file_is_refused_at_once_not_retried(
    walled: Stack, site: FixtureServer
) -> None:
    result = run(walled, "navigate", url=site.url("/redirect?to=file:///etc/passwd"))
    assert result.status == "rejected", result
    assert result.attempt == 1 and "unsafe redirect" in (result.error or "")


def test_the_cdp_port_is_refused_even_from_inside_the_browser(walled: Stack, site: FixtureServer) -> None:
    cdp = f"http://127.0.0.1:{walled.settings.browser.cdp_port}/json/version"
    result = run(walled, "navigate", url=site.url(f"/redirect?to={cdp}"))
    assert result.status == "rejected" and "egress proxy refused" in (result.error or ""), (
        result.status,
        result.attempt,
        result.error,
    )
    with sync_playwright() as pw:
        page = pw.chromium.connect_over_cdp(walled.settings.cdp_url).contexts[0].new_page()
        response = page.goto(cdp)
        assert response is not None and response.status == 403
        assert "webSocketDebuggerUrl" not in page.content()
        page.close()


def test_doctor_reports_the_egress_state(walled: Stack) -> None:
    doctor = walled.zigral("doctor")
    line = next(line for line in doctor.stdout.splitlines() if line.startswith("egress proxy"))
    assert " ok " in line and "policy loaded" in line


# ---------------------------------------------------------------------------- upstream chaining
@contextmanager
def upstream_squid(site_port: int) -> Iterator[tuple[int, Path]]:
    """A second squid requiring basic auth, as the user's own proxy would."""
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"zigral-upstream-{free_port()}"
    base.mkdir()
    proxy = pwd.getpwnam("proxy")
    os.chown(base, proxy.pw_uid, proxy.pw_gid)
    hashed = (
        subprocess.run(
            ["openssl", "passwd", "-apr1", "-stdin"],
            input=UPSTREAM_PASSWORD.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    (base / "passwd").write_text(f"{UPSTREAM_USER}:{hashed}\n")
    os.chown(base / "passwd", proxy.pw_uid, proxy.pw_gid)
    port = free_port()
    (base / "squid.conf").write_text(f"""http_port 127.0.0.1:{port}
pid_filename {base}/squid.pid
cache_effective_user proxy
cache deny all
access_log stdio:{base}/access.log squid
cache_log {base}/cache.log
coredump_dir {base}
shutdown_lifetime 1 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth {base}/passwd
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
""")
    proc = subprocess.Popen(
        ["squid", "-N", "-f", str(base / "squid.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (base / "cache.log").read_text()
                time.sleep(0.2)
        yield port, base / "access.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def empty_407_proxy() -> Iterator[int]:
    """An upstream proxy that answers every request with a bare 407: no body, no Proxy-Authenticate."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


def use_upstream(stack: Stack, url: str) -> None:
    """Point the running stack's proxy at another upstream: one setting, a render, a restart of squid."""
    egress = stack.settings.egress.model_copy(update={"upstream_url": SecretStr(url)})
    render(stack.settings.model_copy(update={"egress": egress}))
    assert "squid: started" in supervision.ctl(stack.settings, "restart", "squid").stdout
    probes.wait_for(lambda: probes.tcp(stack.settings.egress.port), "squid listening", timeout=30)


def test_requests_chain_to_an_authenticated_upstream_and_the_password_never_shows(
    site: FixtureServer,
) -> None:
    require("squid", shutil.which("squid") is not None)
    services_available(load_settings())
    with upstream_squid(site.port) as (port, access_log):
        wrong = f"http://{UPSTREAM_USER}:not-the-password@127.0.0.1:{port}"
        with booted_stack(
            runtime={"allow_private": [f"127.0.0.1:{site.port}"]}, egress={"upstream_url": wrong}
        ) as stack:
            refused = run(stack, "navigate", url=site.url("/ok"))
            assert refused.status == "failed", refused
            assert "upstream proxy refused the credentials" in (refused.error or "")

            # An upstream whose 407 has no body (nor any challenge) is named just the same, at once.
            chromium = stack.pid("chromium")
            with empty_407_proxy() as bare:
                use_upstream(stack, f"http://{UPSTREAM_USER}:not-the-password@127.0.0.1:{bare}")
                for url in (site.url("/ok"), f"https://127.0.0.1:{site.port}/ok"):
                    bare_refusal = run(stack, "navigate", url=url)
                    assert bare_refusal.status == "failed" and bare_refusal.attempt == 1, bare_refusal
                    assert "upstream proxy refused the credentials" in (bare_refusal.error or "")

            # The fix is one setting, a render and a restart of the proxy; the browser keeps running.
            use_upstream(stack, f"http://{UPSTREAM_USER}:{UPSTREAM_PASSWORD}@127.0.0.1:{port}")
            result = run(stack, "navigate", url=site.url("/ok"))
            assert result.status == "succeeded", result
            assert stack.pid("chromium") == chromium
            log = access_log.read_text()
            assert f" {UPSTREAM_USER} " in log and f"127.0.0.1:{site.port}/ok" in log

            # The password is nowhere to be read but the proxy's own 0600 config.
            for proc in psutil.process_iter(["cmdline"]):
                assert UPSTREAM_PASSWORD not in " ".join(proc.info["cmdline"] or [])
            for path in stack.settings.paths.log_dir.rglob("*"):
                if path.is_file():
                    assert UPSTREAM_PASSWORD not in path.read_text(errors="replace"), path
            for path in stack.settings.captures.dir.rglob("*"):
                if path.is_file():
                    assert UPSTREAM_PASSWORD.encode() not in path.read_bytes(), path
            assert UPSTREAM_PASSWORD not in stack.settings.paths.env_file.read_text()
            store = TaskStore.from_settings(stack.settings)
            for key in store.client.scan_iter(match=f"{stack.settings.runtime.namespace}:*"):
                if store.client.type(key) == "hash":
                    assert UPSTREAM_PASSWORD not in str(store.client.hgetall(key))
            assert stack.settings.paths.squid_conf.stat().st_mode & 0o077 == 0
