"""The supervised VM stack, booted for real on its own display and ports."""

from __future__ import annotations

import functools
import io
import ipaddress
import time

import psutil
import pytest
from PIL import Image, ImageStat
from playwright.sync_api import sync_playwright

from zigral import probes
from zigral.doctor import web_tls
from zigral.launch import CHROMIUM_QUIET_FLAGS

from .conftest import Stack

pytestmark = pytest.mark.integration

PROGRAMS = {
    "xvfb",
    "wm",
    "x11vnc",
    "squid",
    "chromium",
    "websockify",
    "nginx",
    "agents:lincoln",
    "agents:shaun",
    "ops",
}


def stack_pids(stack: Stack) -> set[int]:
    pids: set[int] = set()
    for name in PROGRAMS:
        try:
            proc = psutil.Process(stack.pid(name))
        except psutil.NoSuchProcess:
            continue
        pids.add(proc.pid)
        pids.update(child.pid for child in proc.children(recursive=True))
    return pids


def is_blank(png: bytes) -> bool:
    """A picture with (almost) one colour: what an unconnected or black noVNC canvas looks like."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    return len(colours) < 8 or max(ImageStat.Stat(image).stddev) < 4


def test_every_program_is_running_and_doctor_is_green(running_stack: Stack) -> None:
    assert running_stack.states() == {name: "RUNNING" for name in PROGRAMS}
    doctor = running_stack.zigral("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "healthy" in doctor.stdout


def test_only_nginx_listens_beyond_loopback(running_stack: Stack) -> None:
    pids = stack_pids(running_stack)
    listeners = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    }
    s = running_stack.settings
    ports = {port for _, port in listeners}
    assert {s.vnc.port, s.browser.cdp_port, s.web.websockify_port, s.web.port} <= ports
    public = {(ip, port) for ip, port in listeners if not ipaddress.ip_address(ip).is_loopback}
    assert public == {("0.0.0.0", s.web.port)}


def test_nginx_answers_401_and_refuses_the_websocket_without_credentials(running_stack: Stack) -> None:
    port = running_stack.settings.web.port
    tls, origin = web_tls(running_stack.settings), f"https://127.0.0.1:{port}"
    for path in ("/", "/vnc.html", "/captures/"):
        assert probes.http_status(f"https://127.0.0.1:{port}{path}", tls=tls) == 401
    assert (
        probes.http_status(f"https://127.0.0.1:{port}/websockify", tls=tls) == 403
    )  # no Origin: refused first
    ws = functools.partial(probes.websocket_upgrade, "127.0.0.1", port, "/websockify", tls=tls, origin=origin)
    assert ws() == 401
    assert ws(("operator", "wrong")) == 401
    assert ws(running_stack.web_auth) == 101


def test_playwright_attaches_over_cdp_and_opens_a_page(running_stack: Stack) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(running_stack.settings.cdp_url, timeout=20_000)
        context = browser.contexts[0]
        page = context.new_page()
        page.set_content("<title>zigral</title><h1 style='color:#c00'>Hello from the stack</h1>")
        assert page.title() == "zigral"
        assert page.evaluate("navigator.userAgent").find("HeadlessChrome") == -1
        page.close()


def test_the_novnc_page_shows_the_desktop_through_nginx(
    running_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    s = running_stack.settings
    with sync_playwright() as pw:
        # A banner page on the supervised browser, so the desktop shows something recognisable.
        attached = pw.chromium.connect_over_cdp(s.cdp_url, timeout=20_000)
        banner = attached.contexts[0].new_page()
        banner.set_content(
            "<body style='background:#1d6fd6;color:white;font:64px sans-serif'>Zigral desktop</body>"
        )
        banner.bring_to_front()
        viewer = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS]
        )
        page = viewer.new_page(
            http_credentials={"username": s.web.user, "password": running_stack.web_auth[1]},
            viewport={"width": 1280, "height": 800},
            ignore_https_errors=True,  # the stack's self-signed certificate
        )
        page.goto(f"https://127.0.0.1:{s.web.port}/")  # the landing page redirects into noVNC
        page.wait_for_url("**/vnc.html?*")
        if s.vnc.password:  # ZIGRAL_VNC__PASSWORD=true: x11vnc asks its own password too
            page.locator("#noVNC_password_input").fill(running_stack.vnc_password)
            page.locator("#noVNC_credentials_button").click()
        canvas = page.locator("#noVNC_container canvas")
        canvas.wait_for(state="visible")
        deadline = time.monotonic() + 20
        shot = canvas.screenshot()
        while is_blank(shot) and time.monotonic() < deadline:
            time.sleep(0.5)
            shot = canvas.screenshot()
        out = tmp_path_factory.getbasetemp() / "novnc.png"
        page.screenshot(path=str(out))
        viewer.close()
        banner.close()
    assert not is_blank(shot), f"the noVNC canvas stayed blank (page screenshot: {out})"
