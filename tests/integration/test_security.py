"""What an unprivileged local user and a hostile page cannot do, against a real stack.

A throwaway user (``useradd``, removed afterwards) tries CDP, the X display, the ops listener's POST
endpoints, the secrets, logs, captures and rendered configs. A page in the stack's browser tries every
vector it has (img, iframe, fetch, XHR, WebSocket, beacon, form POST, redirect, meta refresh, WebRTC
STUN/TURN over UDP) against canaries listening on every address of this machine; they must hear nothing.
The same page in a plain Chromium (no proxy, no namespace, no WebRTC policy) makes them talk: the control
that shows the canaries and the page would catch a leak.
"""

from __future__ import annotations

import base64
import functools
import http.client
import ipaddress
import json
import pwd
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from zigral import probes, xauth
from zigral.config import load_settings
from zigral.doctor import web_tls
from zigral.egress import own_addresses
from zigral.render import WEB_BURST, WEB_RATE_PER_SECOND
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, free_port, require, services_available
from .test_stack import is_blank

pytestmark = pytest.mark.integration

SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter may sit where another user cannot go


# ---------------------------------------------------------------------------- the stranger
@pytest.fixture(scope="module")
def stranger() -> Iterator[pwd.struct_passwd]:
    """An ordinary local user with no business with Zigral."""
    require("useradd", shutil.which("useradd") is not None)
    name = "zt" + uuid.uuid4().hex[:10]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


def as_user(user: pwd.struct_passwd, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": "/", **env},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def python_as(user: pwd.struct_passwd, code: str) -> str:
    done = as_user(user, [SYSTEM_PYTHON, "-c", code])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# ---------------------------------------------------------------------------- canaries
class Canaries:
    """A TCP listener and a UDP socket on every address (0.0.0.0 and [::]), counting who reaches them."""

    def __init__(self) -> None:
        self.tcp_port, self.udp_port = free_port(), free_port()
        self.tcp: Counter[str] = Counter()
        self.udp: Counter[str] = Counter()
        self.sockets: list[socket.socket] = []
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            listener = self._bound(family, socket.SOCK_STREAM, (host, self.tcp_port))
            listener.listen(64)
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
            datagrams = self._bound(family, socket.SOCK_DGRAM, (host, self.udp_port))
            threading.Thread(target=self._receive, args=(datagrams,), daemon=True).start()

    def _bound(self, family: int, kind: int, address: tuple[str, int]) -> socket.socket:
        sock = socket.socket(family, kind)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        self.sockets.append(sock)
        return sock

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            self.tcp[peer[0]] += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(2)
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncanary")
            except OSError:
                pass

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                _, peer = sock.recvfrom(4096)
            except OSError:
                return
            if peer is None:  # shut down
                return
            self.udp[peer[0]] += 1

    def reset(self) -> None:
        self.tcp.clear()
        self.udp.clear()

    def close(self) -> None:
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def hosts() -> list[str]:
    """Every way to name this machine: loopback, [::], 0.0.0.0 and each interface address."""
    out = ["127.0.0.1", "localhost", "[::1]", "[::]", "0.0.0.0"]
    for address in own_addresses():
        ip = ipaddress.ip_address(address)
        if not ip.is_loopback and not ip.is_link_local:
            out.append(f"[{ip}]" if ip.version == 6 else str(ip))
    return out


ATTACK = """<title>attack</title><body>
<script>
const hosts = __HOSTS__, tcp = __TCP__, udp = __UDP__, site = __SITE__;
let i = 0;
const frame = (src) => {
  const f = document.createElement("iframe"); f.src = src; document.body.appendChild(f);
};
for (const h of hosts) {
  const base = `http://${h}:${tcp}/`;
  new Image().src = base + "img";
  frame(base + "iframe");
  frame(`${site}/redirect?to=${base}redirect`);
  frame(`${site}/meta?to=${base}meta`);
  fetch(base + "fetch", {mode: "no-cors"}).catch(() => {});
  const xhr = new XMLHttpRequest(); xhr.open("GET", base + "xhr"); xhr.onerror = () => {}; xhr.send();
  try { new WebSocket(`ws://${h}:${tcp}/ws`).onerror = () => {}; } catch (e) {}
  navigator.sendBeacon(base + "beacon", "x");
  const sink = document.createElement("iframe"); sink.name = `sink${i}`; document.body.appendChild(sink);
  const form = document.createElement("form");
  form.method = "POST"; form.action = base + "form"; form.target = `sink${i}`;
  document.body.appendChild(form); form.submit();
  for (const url of [`stun:${h}:${udp}`, `turn:${h}:${udp}?transport=udp`]) {
    try {
      const pc = new RTCPeerConnection({iceServers: [{urls: url, username: "u", credential: "p"}]});
      pc.createDataChannel("leak");
      pc.createOffer().then((offer) => pc.setLocalDescription(offer)).catch(() => {});
      (window.pcs = window.pcs || []).push(pc);
    } catch (e) { console.log("rtc", url, e); }
  }
  i++;
}
</script>"""


@pytest.fixture(scope="module")
def canaries() -> Iterator[Canaries]:
    c = Canaries()
    yield c
    c.close()


@pytest.fixture(scope="module")
def site(canaries: Canaries) -> Iterator[FixtureServer]:
    with serve() as server:

        @server.route("/attack")
        def attack(req: Any) -> tuple[int, dict[str, str], bytes]:
            page = (
                ATTACK.replace("__HOSTS__", json.dumps(hosts()))
                .replace("__TCP__", str(canaries.tcp_port))
                .replace("__UDP__", str(canaries.udp_port))
                .replace("__SITE__", json.dumps(server.base))
            )
            return 200, {"Content-Type": "text/html"}, page.encode()

        @server.route("/redirect")
        def redirect(req: Any) -> tuple[int, dict[str, str], bytes]:
            return 302, {"Location": req.query.removeprefix("to=")}, b""

        @server.route("/meta")
        def meta(req: Any) -> tuple[int, dict[str, str], bytes]:
            target = req.query.removeprefix("to=")
            return (
                200,
                {"Content-Type": "text/html"},
                f'<meta http-equiv="refresh" content="0; url={target}">'.encode(),
            )

        yield server


@pytest.fixture(scope="module")
def stack(site: FixtureServer) -> Iterator[Stack]:
    require("squid", shutil.which("squid") is not None)
    services_available(load_settings())
    with booted_stack(runtime={"allow_private": [f"127.0.0.1:{site.port}"]}) as s:
        yield s


def attack_from(browser: Browser, site: FixtureServer, new_context: bool) -> None:
    context = browser.new_context() if new_context else browser.contexts[0]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(site.url("/attack"))
        assert page.wait_for_function("(window.pcs || []).length > 0", timeout=10_000), errors
        time.sleep(5)  # requests, refreshes and ICE gathering run
    finally:
        page.close()
        if new_context:
            context.close()


# ---------------------------------------------------------------------------- the page
def test_a_plain_chromium_reaches_the_canaries_so_the_page_would_catch_a_leak(
    canaries: Canaries, site: FixtureServer
) -> None:
    canaries.reset()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            attack_from(browser, site, new_context=True)
        finally:
            browser.close()
    assert canaries.tcp and canaries.udp, (canaries.tcp, canaries.udp)


def test_a_page_in_the_stacks_browser_reaches_no_canary_over_tcp_or_webrtc_udp(
    stack: Stack, canaries: Canaries, site: FixtureServer
) -> None:
    canaries.reset()
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(stack.settings.cdp_url)
        attack_from(browser, site, new_context=False)
    assert (dict(canaries.tcp), dict(canaries.udp)) == ({}, {})
    assert site.hits["/attack"] >= 1  # the page itself did load, through the proxy


# ---------------------------------------------------------------------------- the local user
def test_another_local_user_cannot_reach_the_browser_over_cdp(
    stack: Stack, stranger: pwd.struct_passwd
) -> None:
    url = f"http://127.0.0.1:{stack.settings.browser.cdp_port}/json/version"
    code = f"""
import urllib.request
try:
    print(urllib.request.urlopen({url!r}, timeout=10).read()[:40])
except Exception as exc:
    print("refused", type(exc).__name__)
"""
    assert python_as(stranger, code).startswith("refused")
    assert "webSocketDebuggerUrl" in probes.cdp_version(stack.settings.browser.cdp_port)  # root may


def test_another_local_user_cannot_open_the_display(stack: Stack, stranger: pwd.struct_passwd) -> None:
    require("xdpyinfo", shutil.which("xdpyinfo") is not None)
    display = stack.settings.display.name
    refused = as_user(stranger, ["xdpyinfo", "-display", display])
    assert refused.returncode != 0 and "unable to open display" in refused.stderr, refused
    # The same program with root's Xauthority is admitted: the refusal is the cookie, not a dead display.
    admitted = subprocess.run(
        ["xdpyinfo", "-display", display],
        env={"PATH": "/usr/bin:/bin", "XAUTHORITY": str(xauth.server_file(stack.settings))},
        capture_output=True,
        text=True,
        check=False,
    )
    assert admitted.returncode == 0, admitted.stderr


def test_another_local_user_reads_no_secret_log_capture_config_or_display_key(
    stack: Stack, stranger: pwd.struct_passwd
) -> None:
    p, s = stack.settings.paths, stack.settings
    assert stack.zigral("doctor").returncode == 0  # logs and the task's captures exist by now
    closed = [
        p.secrets_dir,
        *p.secrets_dir.iterdir(),
        p.log_dir,
        *[path for path in p.log_dir.rglob("*") if path.is_file()],
        s.captures.dir,
        p.supervisor_conf,
        p.nginx_conf,
        p.squid_conf,
        p.env_file,
        s.profile_dir,
        xauth.server_file(s),
        p.state_dir / "browser-home" / ".Xauthority",
    ]
    code = f"""
import os
opened = []
for path in {[str(path) for path in closed]!r}:
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1)
        opened.append(path)
    except OSError:
        pass
print("\\n".join(opened))
"""
    assert python_as(stranger, code) == ""


def test_another_local_user_cannot_post_to_the_ops_listener(
    stack: Stack, stranger: pwd.struct_passwd
) -> None:
    base = f"http://127.0.0.1:{stack.settings.metrics.ops_port}"
    code = f"""
import urllib.error, urllib.request
for path in ("/recycle", "/nope"):
    try:
        urllib.request.urlopen(urllib.request.Request({base!r} + path, data=b"", method="POST"), timeout=10)
        print(path, 200)
    except urllib.error.HTTPError as exc:
        print(path, exc.code)
"""
    assert python_as(stranger, code).split() == ["/recycle", "403", "/nope", "403"]
    root = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", f"{base}/nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert root.stdout == "404"  # root is let through to the routing (and would recycle)


def test_doctor_reports_the_display_key_and_the_browsers_closed_room(stack: Stack) -> None:
    lines = {line.split("  ")[0]: line for line in stack.zigral("doctor").stdout.splitlines()}
    assert " ok " in lines["X display"] and "without the cookie is refused" in lines["X display"]
    assert " ok " in lines["browser isolation"] and "loopback only" in lines["browser isolation"]


# ---------------------------------------------------------------------------- the web port
def https(stack: Stack) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", stack.settings.web.port, context=web_tls(stack.settings))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_plain_http_on_the_web_port_gets_only_a_redirect_to_https(stack: Stack) -> None:
    port = stack.settings.web.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/status/", headers=basic(*stack.web_auth))
    answer = conn.getresponse()
    assert answer.status == 301
    assert answer.getheader("Location") == f"https://127.0.0.1:{port}/status/"
    assert b"status" not in answer.read().lower().replace(b"301", b"")  # nothing of the page itself
    conn.close()


def test_wrong_passwords_from_one_address_are_cut_off_past_a_burst(stack: Stack) -> None:
    conn = https(stack)
    codes: Counter[int] = Counter()
    started = time.monotonic()
    for i in range(400):
        conn.request("GET", "/", headers=basic("operator", f"guess-{i}"))
        answer = conn.getresponse()
        answer.read()
        codes[answer.status] += 1
    elapsed = time.monotonic() - started
    conn.close()
    assert set(codes) == {401, 429}, codes
    assert codes[401] <= WEB_BURST + WEB_RATE_PER_SECOND * (elapsed + 1), (codes, elapsed)


def test_no_page_may_be_framed_by_another_site(stack: Stack) -> None:
    conn = https(stack)
    for path in ("/", "/vnc.html", "/status/", "/captures/", "/nope"):
        time.sleep(0.2)  # stay under the request limit
        conn.request("GET", path, headers=basic(*stack.web_auth))
        answer = conn.getresponse()
        answer.read()
        assert answer.getheader("X-Frame-Options") == "SAMEORIGIN", path
        assert "frame-ancestors 'self'" in (answer.getheader("Content-Security-Policy") or ""), path
    conn.close()


def test_the_remote_views_websocket_opens_for_this_sites_pages_only(stack: Stack) -> None:
    time.sleep(1)  # the request limit refills after the burst test
    port = stack.settings.web.port
    ws = functools.partial(
        probes.websocket_upgrade,
        "127.0.0.1",
        port,
        "/websockify",
        stack.web_auth,
        tls=web_tls(stack.settings),
    )
    assert ws(origin="https://evil.example") == 403
    assert ws(origin=f"http://127.0.0.1:{port}") == 403
    assert ws() == 403  # no Origin: not a page of this site
    assert ws(origin=f"https://127.0.0.1:{port}") == 101


def test_another_local_user_cannot_use_the_egress_proxy(
    stack: Stack, stranger: pwd.struct_passwd, site: FixtureServer
) -> None:
    code = f"""
import urllib.error, urllib.request
proxy = urllib.request.ProxyHandler({{"http": "http://127.0.0.1:{stack.settings.egress.port}"}})
try:
    print(urllib.request.build_opener(proxy).open({site.url("/attack")!r}, timeout=10).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""
    assert python_as(stranger, code) == "407"


def test_another_local_user_cannot_reach_the_vnc_server(stack: Stack, stranger: pwd.struct_passwd) -> None:
    code = f"""
import socket
with socket.create_connection(("127.0.0.1", {stack.settings.vnc.port}), timeout=10) as sock:
    sock.settimeout(10)
    print(repr(sock.recv(12)))
"""
    assert python_as(stranger, code) == "b''"  # the door closes: not even the RFB banner
    assert probes.rfb_banner(stack.settings.vnc.port).startswith("RFB ")  # root (websockify) is let in


def test_one_sign_in_opens_the_remote_view_without_a_vnc_password(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    services_available(load_settings())
    with booted_stack(vnc={"password": False}) as s, sync_playwright() as pw:
        attached = pw.chromium.connect_over_cdp(s.settings.cdp_url)
        banner = attached.contexts[0].new_page()
        banner.set_content(
            "<body style='background:#1d6fd6;color:white;font:64px sans-serif'>One sign-in</body>"
        )
        banner.bring_to_front()
        viewer = pw.chromium.launch(executable_path="/usr/bin/chromium")
        page = viewer.new_page(
            http_credentials={"username": s.settings.web.user, "password": s.web_auth[1]},
            viewport={"width": 1280, "height": 800},
            ignore_https_errors=True,  # the stack's self-signed certificate
        )
        page.goto(f"https://127.0.0.1:{s.settings.web.port}/")  # nginx's sign-in is the only one
        canvas = page.locator("#noVNC_container canvas")
        canvas.wait_for(state="visible")
        deadline = time.monotonic() + 20
        while is_blank(shot := canvas.screenshot()) and time.monotonic() < deadline:
            time.sleep(0.5)
        out = tmp_path_factory.getbasetemp() / "one-sign-in.png"
        page.screenshot(path=str(out))
        assert not page.locator("#noVNC_credentials_dlg.noVNC_open").is_visible()
        viewer.close()
        banner.close()
    assert not is_blank(shot), f"the remote view stayed blank (page screenshot: {out})"
