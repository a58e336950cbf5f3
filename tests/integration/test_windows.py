"""Each agent's own labelled window in the live view, against the real Chromium on the stack's display: side
by side, found again after the agent is killed, with nothing left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from zigral import windows
from zigral.config import load_settings
from zigral.launch import CHROMIUM_QUIET_FLAGS
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, services_available
from .test_stack import is_blank

pytestmark = pytest.mark.integration

# One agent process as far as the browser is concerned: attach, take the work tab, open a page, then wait to
# be killed (SIGKILL: no clean-up of any kind).
AGENT = """
import sys
from zigral.browser import BrowserSession
from zigral.deadline import Deadline
port, agent, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
page = BrowserSession(port, 30, agent=agent, columns=("lincoln", "shaun")).page(Deadline(60))
print("found", page.url, flush=True)
if url != "-":
    page.goto(url)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with serve() as server:
        server.page("/lincoln", "<title>Lincoln's site</title><h1 style='font-size:80px'>Lincoln's page</h1>")
        server.page("/shaun", "<title>Shaun's site</title><h1 style='font-size:80px'>Shaun's page</h1>")
        yield server


@pytest.fixture(scope="module")
def stack(site: FixtureServer) -> Iterator[Stack]:
    services_available(load_settings())
    # Two sign-ins here (x11vnc's own password too), so that the opt-in path keeps a real test.
    with booted_stack(
        runtime={"allow_private": [site.base.removeprefix("http://")]}, vnc={"password": True}
    ) as s:
        s.ctl("stop", "agents:*")  # the test plays the agents, killing them at will
        yield s


RUNNING: list[subprocess.Popen[str]] = []  # killed after each test, whatever it came to


@pytest.fixture(autouse=True)
def no_agent_left() -> Iterator[None]:
    yield
    while RUNNING:
        proc = RUNNING.pop()
        if proc.poll() is None:
            kill(proc)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def run_agent(stack: Stack, agent: str, url: str = "-") -> tuple[subprocess.Popen[str], str]:
    """An agent attached to the stack's Chromium; returns it and the URL its work tab had when it found it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(stack.settings.browser.cdp_port), agent, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    RUNNING.append(proc)
    assert proc.stdout is not None
    found = proc.stdout.readline().split(" ", 1)[1].strip()
    assert proc.stdout.readline().strip() == "ready"
    return proc, found


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def browser_windows(stack: Stack) -> dict[int, list[tuple[str, str]]]:
    """Every window of the stack's Chromium: its tabs' (URL, title), as a fresh CDP client sees them."""
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(stack.settings.cdp_url)
        context = browser.contexts[0]
        cdp = browser.new_browser_cdp_session()
        out: dict[int, list[tuple[str, str]]] = {}
        for page in context.pages:
            window = windows._window(cdp, context, page)
            out.setdefault(window, []).append((page.url, page.title()))
        bounds = {w: cdp.send("Browser.getWindowBounds", {"windowId": w})["bounds"] for w in out}
        for w, b in bounds.items():
            out[w].append(("bounds", f"{b['left']},{b['top']} {b['width']}x{b['height']}"))
    return out


def window_of(agent: str, every: dict[int, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    (tabs,) = [
        tabs for tabs in every.values() if (windows.label_url(agent), windows.label_title(agent)) in tabs
    ]
    return tabs


def test_each_agent_has_its_labelled_window_side_by_side_and_finds_it_again_after_a_kill(
    stack: Stack, site: FixtureServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    lincoln, _ = run_agent(stack, "lincoln", site.url("/lincoln"))
    shaun, _ = run_agent(stack, "shaun", site.url("/shaun"))
    every = browser_windows(stack)
    mine = {agent: window_of(agent, every) for agent in ("lincoln", "shaun")}
    for agent in ("lincoln", "shaun"):
        label = (windows.label_url(agent), windows.label_title(agent))
        assert sorted(mine[agent][:-1]) == sorted(
            [label, (site.url(f"/{agent}"), f"{agent.capitalize()}'s site")]
        )
    width = stack.settings.display.width
    assert mine["lincoln"][-1][1].startswith("0,0 ") and mine["shaun"][-1][1].startswith(f"{width // 2},0 ")
    pages_before = sum(len(tabs) - 1 for tabs in every.values())

    for _ in range(3):  # killed, restarted: the same window and work tab, nothing added
        kill(lincoln)
        lincoln, found = run_agent(stack, "lincoln")
        assert found == site.url("/lincoln"), "the restarted agent did not find its work tab again"
    kill(shaun)
    shaun, found = run_agent(stack, "shaun")
    assert found == site.url("/shaun")
    every = browser_windows(stack)
    assert sum(len(tabs) - 1 for tabs in every.values()) == pages_before, every
    shot = live_view(stack, tmp_path_factory.getbasetemp() / "live-view-windows.png")
    kill(lincoln)
    kill(shaun)
    assert not is_blank(shot)


def live_view(stack: Stack, out: Path) -> bytes:
    """What an operator sees in noVNC (the page screenshot is kept at ``out`` to look at)."""
    s = stack.settings
    with sync_playwright() as pw:
        viewer = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS]
        )
        page = viewer.new_page(
            http_credentials={"username": s.web.user, "password": stack.web_auth[1]},
            ignore_https_errors=True,  # the stack's self-signed certificate
            viewport={"width": s.display.width, "height": s.display.height + 40},
        )
        page.goto(f"https://127.0.0.1:{s.web.port}/vnc.html?autoconnect=1&resize=scale&path=websockify")
        if s.vnc.password:  # ZIGRAL_VNC__PASSWORD=true: x11vnc asks its own password too
            page.locator("#noVNC_password_input").fill(stack.vnc_password)
            page.locator("#noVNC_credentials_button").click()
        canvas = page.locator("#noVNC_container canvas")
        canvas.wait_for(state="visible")
        deadline = time.monotonic() + 20
        while is_blank(shot := canvas.screenshot()) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)
        out.write_bytes(canvas.screenshot())
        viewer.close()
    return shot
