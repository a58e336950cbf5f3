"""Run one agent action straight against a fixture site in headless Chromium: no broker, no Redis, no stack.

The mutation suites run every action against dozens of seeded variants of a site; going through the
whole command path for each would take minutes and prove nothing more (the integration tests prove the
path). An :class:`ActionRunner` builds the same :class:`~zigral.actions.ActionContext` the worker builds,
runs the action, and reports what the worker would record: succeeded with a result, or the error's status,
message and, for a locator miss, the locator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from zigral.actions import ActionContext
from zigral.agents.base import Agent
from zigral.browser import translate
from zigral.captures import CaptureStore
from zigral.deadline import Deadline
from zigral.errors import ConfigError, LocatorMissing, TaskError
from zigral.urlpolicy import UrlPolicy

CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Run:
    """What the worker would have recorded for one action."""

    status: str  # succeeded, or the error's status (failed, rejected, timed_out, needs_human ...)
    result: Any = None
    error: str | None = None
    locator: str | None = None  # the locator that missed, for a LocatorMissing failure
    misses: list[str] = field(default_factory=list)  # every locator miss counted during the run
    reports: list[tuple[str, str | None]] = field(default_factory=list)  # needs_human, running ...
    captures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


@contextlib.contextmanager
def headless_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, no proxy: the fixture site is on loopback."""
    if not CHROMIUM.exists():
        raise ConfigError("Chromium (/usr/bin/chromium) is required: deploy/install.sh installs it")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--disable-gpu", "--no-first-run", "--disable-background-networking", "--no-sandbox"],
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class ActionRunner:
    """Runs ``agent``'s actions in ``page``, each with a fresh deadline, memo and capture folder."""

    agent: Agent
    page: Page
    captures: Path
    allow_private: tuple[str, ...] = ()
    memo: dict[str, Any] = field(default_factory=dict)

    def run(self, action: str, timeout: float = 30.0, **params: Any) -> Run:
        act = self.agent.action(action)
        record = Run("running")
        try:
            parsed = act.parse(params)
        except TaskError as exc:
            return Run(exc.status, error=str(exc))
        ctx = ActionContext(
            self.page,
            f"t-{action}",
            Deadline(timeout),
            UrlPolicy(allow_private=self.allow_private),
            CaptureStore(self.captures, self.agent.name),
            report=lambda status, note: record.reports.append((status, note)),
            memo=self.memo,
            remember=self.memo.__setitem__,
            on_locator_miss=record.misses.append,
        )
        self.page.set_default_timeout(timeout * 1000)
        try:
            try:
                record.result = act.run(ctx, parsed)
            except PlaywrightError as exc:  # as the browser thread translates it
                raise translate(exc, ctx.deadline) from None
            record.status = "succeeded"
        except LocatorMissing as exc:
            record.status, record.error, record.locator = exc.status, str(exc), exc.locator
        except TaskError as exc:
            record.status, record.error = exc.status, str(exc)
        record.captures = list(ctx.saved)
        return record
