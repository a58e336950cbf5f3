"""Each agent's own window on the VM's display: an operator watching the live view sees which is whose.

An agent's window holds two tabs: a label tab (``about:blank#zigral-agent-<name>``, titled with the agent's
name, never navigated) and the work tab the agent drives. The windows stand side by side, one column per
agent this VM runs, in the registry's order (``Agent.order``). A restarted agent finds its window again by
the label tab's URL, keeps one work tab in it and closes the others, so that crashes and kills leave nothing
behind.

Playwright types stay here and in :mod:`zigral.browser`, the one caller.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Page
from playwright.sync_api import Error as PlaywrightError

log = logging.getLogger(__name__)

_LABEL_PAGE = """<!doctype html><meta charset="utf-8"><title>{title}</title>
<body style="margin:0;font:20px/1.4 system-ui,sans-serif;background:{colour};color:#fff;display:grid;
place-content:center;height:100vh;text-align:center">
<div style="font-size:64px;font-weight:700">{name}</div>
<p>This window is the Zigral agent {name}'s: it works in the next tab.<br>
Take it over only while {name} waits for a person (needs_human); otherwise watch.</p></body>"""
_COLOURS = ("#1f5fbf", "#1e8a4c", "#8a3fb8", "#b8621f")


def label_url(agent: str) -> str:
    return f"about:blank#zigral-agent-{agent}"


def label_title(agent: str) -> str:
    return f"{agent.capitalize()} · Zigral agent"


def _target_id(context: BrowserContext, page: Page) -> str:
    session = context.new_cdp_session(page)
    try:
        return str(session.send("Target.getTargetInfo")["targetInfo"]["targetId"])
    finally:
        session.detach()


def _window(cdp: CDPSession, context: BrowserContext, page: Page) -> int:
    return int(cdp.send("Browser.getWindowForTarget", {"targetId": _target_id(context, page)})["windowId"])


def _window_if_open(cdp: CDPSession, context: BrowserContext, page: Page) -> int | None:
    """The page's window, or None for a page another agent closed while this one looked (both agents
    attach at once after a browser restart, each tidying its own window)."""
    try:
        return _window(cdp, context, page)
    except PlaywrightError:  # "No target with given id found", "Target closed"
        return None


def _open_label(context: BrowserContext, cdp: CDPSession, agent: str, columns: tuple[str, ...]) -> Page:
    with context.expect_page() as opened:
        cdp.send("Target.createTarget", {"url": label_url(agent), "newWindow": True})
    label = opened.value
    index = columns.index(agent) if agent in columns else len(columns)
    colour = _COLOURS[index % len(_COLOURS)]
    name = html.escape(agent.capitalize())
    label.set_content(_LABEL_PAGE.format(title=html.escape(label_title(agent)), name=name, colour=colour))
    log.info("opened %s's window", agent)
    return label


def _place(cdp: CDPSession, window: int, agent: str, label: Page, agents: tuple[str, ...]) -> None:
    """Side by side in the order of ``agents``: each agent a column of the screen's full height."""
    index = agents.index(agent) if agent in agents else 0
    columns = max(1, len(agents))
    screen: Any = label.evaluate("[screen.availWidth, screen.availHeight]")
    width, height = int(screen[0]), int(screen[1])
    cdp.send("Browser.setWindowBounds", {"windowId": window, "bounds": {"windowState": "normal"}})
    bounds = {"left": index * width // columns, "top": 0, "width": width // columns, "height": height}
    cdp.send("Browser.setWindowBounds", {"windowId": window, "bounds": bounds})


@contextlib.contextmanager
def arranging(cdp_port: int) -> Iterator[None]:
    """One agent at a time sorts the windows of the browser at ``cdp_port``: after a restart both agents
    attach at once, and a page one opens must never be taken for the other's (``expect_page`` sees any)."""
    path = os.path.join(tempfile.gettempdir(), f"zigral-windows-{cdp_port}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel too when a killed agent's fd closes
        yield
    finally:
        os.close(fd)


def work_tab(context: BrowserContext, agent: str, columns: tuple[str, ...] = ()) -> Page:
    """``agent``'s work tab in its own labelled window: the one left by an earlier run, or a new one.
    ``columns``: the agents sharing the screen, left to right (none: the whole screen)."""
    columns = columns or (agent,)
    browser = context.browser
    if browser is None:
        raise RuntimeError("the context has no browser")  # never for connect_over_cdp's default context
    cdp = browser.new_browser_cdp_session()
    try:
        labels = [p for p in context.pages if p.url == label_url(agent)]
        label = labels[0] if labels else _open_label(context, cdp, agent, columns)
        window = _window(cdp, context, label)
        for extra in labels[1:]:  # two labels: an earlier run raced this one; keep the first window
            extra_window = _window_if_open(cdp, context, extra)
            for page in context.pages:
                if extra_window is not None and _window_if_open(cdp, context, page) == extra_window:
                    page.close()
        _place(cdp, window, agent, label, columns)
        mine = [p for p in context.pages if p is not label and _window_if_open(cdp, context, p) == window]
        for leftover in mine[1:]:
            leftover.close()
        if mine:
            log.info("%s reuses its work tab", agent)
            return mine[0]
        session = context.new_cdp_session(label)
        try:
            with context.expect_page() as opened:
                # A tab in the label's window: window.open with a user gesture (no popup blocking), and
                # noopener, so the sites it visits see an ordinary tab without an opener.
                expression = "window.open('about:blank', '_blank', 'noopener'); true"
                session.send("Runtime.evaluate", {"expression": expression, "userGesture": True})
        finally:
            session.detach()
        return opened.value
    finally:
        cdp.detach()
