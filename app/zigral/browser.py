"""The agent's hold on the shared Chromium: attach over CDP, keep one work tab, reattach after a crash.

All Playwright calls happen on one thread (the browser thread of the worker); Playwright's sync API
is bound to the thread that started it. Playwright's errors become Zigral's here.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from zigral import probes, windows
from zigral.deadline import Deadline
from zigral.errors import (
    BrowserDisconnected,
    DeadlineExceeded,
    NotReady,
    Rejected,
    Retryable,
    TaskError,
    first_line,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Playwright keeps every Request and Response of a tab alive (about 2 objects, some KB, per request) until
# the tab closes. So the work tab is replaced by a fresh one (cookies live in the profile) once it
# has served RENEW_TAB_AFTER commands, at the next command that starts on a new page anyway (a navigation),
# and in any case after RENEW_TAB_AFTER * 20, when the fresh tab opens the URL the old one showed.
RENEW_TAB_AFTER = 100

_GONE = (
    "has been closed",
    "Target closed",
    "Connection closed",
    "Browser closed",
    "browser has disconnected",
)


# The user's upstream proxy answered 407 to an HTTPS tunnel: retrying with the same credentials cannot help.
_PROXY_AUTH = ("ERR_PROXY_AUTH_UNSUPPORTED", "ERR_INVALID_AUTH_CREDENTIALS", "ERR_PROXY_AUTH_REQUESTED")
# A page's own refresh or script navigating while the agent's navigation or read was under way.
_INTERRUPTED = ("interrupted by another navigation", "frame was detached", "Execution context was destroyed")
UPSTREAM_REFUSED = "the upstream proxy refused the credentials (407 Proxy Authentication Required)"


def translate(exc: PlaywrightError, deadline: Deadline) -> TaskError:
    """A Playwright error as a task error: past the deadline, browser gone, retryable, or a plain failure."""
    message = first_line(exc)
    if deadline.passed():
        return DeadlineExceeded(f"deadline passed: {message}")
    if isinstance(exc, PlaywrightTimeout):
        return Retryable(f"timeout: {message}")
    if any(marker in str(exc) for marker in _GONE):
        return BrowserDisconnected(f"browser disconnected: {message}")
    if "net::ERR_UNSAFE_REDIRECT" in str(exc):  # to file://, chrome://, data:: the same every time
        return Rejected(f"unsafe redirect refused: {message}")
    if any(f"net::{code}" in str(exc) for code in _PROXY_AUTH):
        return TaskError(f"{UPSTREAM_REFUSED}: {message}")
    if "net::ERR_" in str(exc) or "NS_ERROR" in str(exc):
        return Retryable(f"navigation error: {message}")
    if any(marker in str(exc) for marker in _INTERRUPTED):  # the page moved on by itself: try again
        return Retryable(f"navigation interrupted: {message}")
    return TaskError(message)


class BrowserSession:
    """Chromium over CDP and this agent's own tab in the default (persistent-profile) context."""

    def __init__(
        self,
        cdp_port: int,
        connect_timeout: float,
        on_connect: Callable[[bool], None] = lambda reconnected: None,
        on_disconnect: Callable[[], None] = lambda: None,
        on_crash: Callable[[], None] = lambda: None,
        agent: str | None = None,
        renew_after: int = RENEW_TAB_AFTER,
        columns: tuple[str, ...] = (),
    ) -> None:
        self.cdp_port = cdp_port
        self.agent = agent  # its own labelled window on the display (zigral.windows); None: a plain tab
        self.columns = columns  # the agents whose windows share the screen, left to right
        self.renew_after = renew_after
        self.connect_timeout = connect_timeout
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_crash = on_crash
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None
        self._uses = 0  # commands the work tab has served
        self._connections = 0

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    def _attach(self, deadline: Deadline) -> Browser:
        if self._pw is None:
            self._pw = sync_playwright().start()
        remaining = deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed while waiting for Chromium")
        try:
            probes.wait_for(lambda: probes.cdp_version(self.cdp_port), "Chromium CDP", timeout=remaining)
        except NotReady as exc:
            raise BrowserDisconnected(str(exc)) from None
        timeout_ms = max(1000.0, min(self.connect_timeout, deadline.remaining()) * 1000)
        try:
            browser = self._pw.chromium.connect_over_cdp(
                f"http://127.0.0.1:{self.cdp_port}", timeout=timeout_ms
            )
        except PlaywrightError as exc:
            raise BrowserDisconnected(f"attach over CDP failed: {exc}") from None
        browser.on("disconnected", lambda _b: self._disconnected())
        self._connections += 1
        self.on_connect(self._connections > 1)
        log.info("attached to Chromium %s over CDP", browser.version)
        return browser

    def _disconnected(self) -> None:
        log.warning("Chromium disconnected")
        self._page = None
        self.on_disconnect()

    def context(self, deadline: Deadline) -> BrowserContext:
        if not self.connected:
            self._browser = None
            self._page = None
            self._browser = self._attach(deadline)
        assert self._browser is not None
        contexts = self._browser.contexts
        if not contexts:
            raise BrowserDisconnected("Chromium has no default context")
        return contexts[0]

    def page(self, deadline: Deadline, navigates: bool = False) -> Page:
        """The agent's work tab, reused; a new one if it was closed or crashed, or is due for renewal
        (RENEW_TAB_AFTER): ``navigates`` says the command leaves the page it finds anyway."""
        context = self.context(deadline)
        carry_over = None
        if self._page is not None and not self._page.is_closed():
            if self._uses >= self.renew_after and navigates:
                self.close_page()
            elif self._uses >= self.renew_after * 20:
                carry_over = self._page.url
                self.close_page()
        if self._page is None or self._page.is_closed():
            self._uses = 0
            if self.agent:
                with windows.arranging(self.cdp_port):
                    self._page = windows.work_tab(context, self.agent, self.columns)
            else:
                self._page = context.new_page()
            self._page.on("crash", lambda _p: self._crashed())
            if carry_over and carry_over != "about:blank":
                self._page.goto(carry_over, timeout=max(1.0, deadline.remaining() * 1000))
        return self._page

    def _crashed(self) -> None:
        log.warning("the work tab crashed")
        self.on_crash()

    def peek(self) -> Page | None:
        """The work tab if it is open, without attaching."""
        if self.connected and self._page is not None and not self._page.is_closed():
            return self._page
        return None

    def close_page(self) -> None:
        """Close the work tab (after a deadline), so an aborted command leaves nothing running."""
        page, self._page = self._page, None
        if page is not None and not page.is_closed():
            try:
                page.close()
            except PlaywrightError:
                pass

    def close(self) -> None:
        """Detach (the shared browser keeps running). Safe to call twice."""
        self.close_page()
        # Never browser.close(): over CDP it sends Browser.close and kills the shared Chromium.
        # Stopping Playwright's driver drops the connection and leaves the browser running.
        self._browser = None
        if self._pw is not None:
            try:
                self._pw.stop()
            except PlaywrightError:
                pass
            self._pw = None

    def run(self, deadline: Deadline, work: Callable[[Page], T], navigates: bool = False) -> T:
        """Run ``work`` on the work tab with every wait bounded by the deadline; Playwright errors translated.

        A command that runs past its deadline has its tab closed, so nothing it started keeps running.
        """
        try:
            page = self.page(deadline, navigates)
            self._uses += 1
            page.set_default_timeout(max(1.0, deadline.remaining() * 1000))
            page.set_default_navigation_timeout(max(1.0, deadline.remaining() * 1000))
            return work(page)
        except PlaywrightError as exc:
            error = translate(exc, deadline)
        except DeadlineExceeded as exc:
            error = exc
        if isinstance(error, DeadlineExceeded):
            self.close_page()
        raise error

    def capture_on_failure(self, save: Callable[[Page], list[str]]) -> list[str]:
        """Best effort: save what the work tab shows after a failure (nothing if the browser is gone)."""
        page = self.peek()
        if page is None:
            return []
        try:
            page.set_default_timeout(10_000)
            return save(page)
        except (PlaywrightError, OSError) as exc:
            log.warning("could not capture the failure: %s", first_line(exc))
            return []


class BrowserThread:
    """One daemon thread that runs every Playwright call (Playwright's sync API is bound to one thread)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="browser", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        fut: Future[T] = Future()
        ctx = contextvars.copy_context()
        self._jobs.put((lambda: ctx.run(fn), fut))
        return fut

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def stop(self) -> None:
        self._jobs.put(None)
