"""The generic actions every agent has, each a params model and a function of (context, params).

Selectors are Playwright selectors: CSS, ``text=…``, ``role=button[name="Send"]``, ``#id``. Every wait is
bounded by the command's deadline (the page's default timeout is the time left).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from playwright.sync_api import Page
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zigral.captures import CaptureStore, scrub_passwords
from zigral.deadline import Deadline
from zigral.errors import LocatorMissing, Rejected, Retryable, TaskError
from zigral.messages import describe
from zigral.urlpolicy import UrlPolicy

P = TypeVar("P", bound=BaseModel)


@dataclass
class ActionContext:
    """What an action may use: the agent's tab, the deadline, the URL policy, the capture store."""

    page: Page
    task_id: str
    deadline: Deadline
    policy: UrlPolicy
    captures: CaptureStore
    saved: list[str] = field(default_factory=list)  # capture paths written by the action
    on_capture: Callable[[str, int], None] = lambda kind, size: None
    # Report a status change while the action goes on (needs_human, then running again), with a note.
    report: Callable[[str, str | None], None] = lambda status, note: None
    # What earlier attempts of this task remembered, and how to remember more (kept with the task record).
    memo: dict[str, Any] = field(default_factory=dict)
    remember: Callable[[str, Any], None] = lambda key, value: None
    on_egress_denied: Callable[[], None] = lambda: None
    # Count a site locator that found nothing (``zigral_locator_misses_total{agent,locator}``).
    on_locator_miss: Callable[[str], None] = lambda locator: None

    def missing(self, locator: str, what: str) -> LocatorMissing:
        """Count a locator miss and return its error: ``raise ctx.missing("profile_name", "...")``."""
        self.on_locator_miss(locator)
        return LocatorMissing(locator, f"locator {locator} found nothing: {what}")

    def remaining_ms(self) -> float:
        return self.deadline.remaining_ms()

    def goto(self, url: str, wait_until: str = "load") -> Any:
        self.policy.check(url)
        response = self.page.goto(url, wait_until=wait_until, timeout=self.remaining_ms())  # type: ignore[arg-type]
        if response is not None:
            proxy_error = response.headers.get("x-squid-error", "")
            if proxy_error.startswith("ERR_ACCESS_DENIED"):
                self.on_egress_denied()
                raise Rejected(
                    f"the egress proxy refused {response.url} (a redirect to an internal address?)"
                )
            if response.status == 407 or proxy_error.startswith("ERR_CACHE_ACCESS_DENIED"):
                raise TaskError(
                    "the upstream proxy refused the credentials (407 Proxy Authentication Required)"
                )
            if proxy_error:  # the proxy could not reach the site: what Chromium alone reports as net::ERR_*
                raise Retryable(
                    f"navigation error: the egress proxy could not fetch {response.url}: {proxy_error}"
                )
        return response

    def capture(
        self, step: str, screenshot: bool = True, html: bool = True, full_page: bool = False
    ) -> list[str]:
        """Save a screenshot and/or the HTML (passwords scrubbed) of the tab; returns relative paths."""
        out = []
        if screenshot:
            png = self.page.screenshot(full_page=full_page, timeout=min(self.remaining_ms(), 30_000))
            out.append(self.captures.relative(self.captures.save("screenshot", self.task_id, step, png)))
            self.on_capture("screenshot", len(png))
        if html:
            text = scrub_passwords(self.page.content()).encode()
            out.append(self.captures.relative(self.captures.save("html", self.task_id, step, text)))
            self.on_capture("html", len(text))
        self.saved.extend(out)
        return out


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Action(Generic[P]):
    """One action: its params model and what it does. ``browser`` False: runs without a tab."""

    name: str
    params: type[P]
    run: Callable[[ActionContext, P], Any]
    browser: bool = True
    quota: str | None = None  # a per-account quota one run takes (see quotas.py)

    def parse(self, raw: dict[str, Any]) -> P:
        try:
            return self.params.model_validate(raw)
        except ValidationError as exc:
            raise Rejected(f"invalid params for {self.name}: {describe(exc)}") from None


# ---------------------------------------------------------------------------- params
class NoParams(Params):
    """An action that takes nothing (``{}``)."""


class NavigateParams(Params):
    url: str = Field(min_length=1, max_length=4096)
    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = "load"


class SelectorParams(Params):
    selector: str = Field(min_length=1, max_length=1000)


class FillParams(SelectorParams):
    value: str = Field(max_length=100_000)


class TypeParams(SelectorParams):
    text: str = Field(max_length=100_000)
    delay_ms: float = Field(0, ge=0, le=1000, description="pause between keystrokes")


class PressParams(Params):
    key: str = Field(min_length=1, max_length=60, description="e.g. Enter, Tab, Control+A")
    selector: str | None = None


class SelectParams(SelectorParams):
    values: list[str] = Field(min_length=1, description="option values (or labels, with by=label)")
    by: Literal["value", "label"] = "value"


class WaitForParams(SelectorParams):
    state: Literal["attached", "detached", "visible", "hidden"] = "visible"
    timeout: float | None = Field(None, gt=0, description="seconds; default: until the deadline")


class ExtractParams(SelectorParams):
    kind: Literal["text", "attribute", "html", "table"] = "text"
    attribute: str | None = None
    all: bool = False


class ScrollParams(Params):
    selector: str | None = None
    to: Literal["top", "bottom"] | None = None
    x: float = 0
    y: float = 0


class ScreenshotParams(Params):
    full_page: bool = False
    step: str = "screenshot"


class SnapshotParams(Params):
    step: str = "snapshot"


class SleepParams(Params):
    seconds: float = Field(ge=0, le=3600)


class EchoParams(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# ---------------------------------------------------------------------------- actions
def navigate(ctx: ActionContext, p: NavigateParams) -> dict[str, Any]:
    response = ctx.goto(p.url, p.wait_until)
    return {"url": ctx.page.url, "title": ctx.page.title(), "status": response.status if response else None}


def click(ctx: ActionContext, p: SelectorParams) -> dict[str, Any]:
    ctx.page.locator(p.selector).click(timeout=ctx.remaining_ms())
    return {"clicked": p.selector}


def fill(ctx: ActionContext, p: FillParams) -> dict[str, Any]:
    ctx.page.locator(p.selector).fill(p.value, timeout=ctx.remaining_ms())
    return {"filled": p.selector}


def type_text(ctx: ActionContext, p: TypeParams) -> dict[str, Any]:
    ctx.page.locator(p.selector).press_sequentially(p.text, delay=p.delay_ms, timeout=ctx.remaining_ms())
    return {"typed": len(p.text)}


def press(ctx: ActionContext, p: PressParams) -> dict[str, Any]:
    if p.selector:
        ctx.page.locator(p.selector).press(p.key, timeout=ctx.remaining_ms())
    else:
        ctx.page.keyboard.press(p.key)
    return {"pressed": p.key}


def select(ctx: ActionContext, p: SelectParams) -> dict[str, Any]:
    locator = ctx.page.locator(p.selector)
    if p.by == "label":
        chosen = locator.select_option(label=p.values, timeout=ctx.remaining_ms())
    else:
        chosen = locator.select_option(value=p.values, timeout=ctx.remaining_ms())
    return {"selected": chosen}


def wait_for(ctx: ActionContext, p: WaitForParams) -> dict[str, Any]:
    timeout = ctx.remaining_ms() if p.timeout is None else min(p.timeout * 1000, ctx.remaining_ms())
    ctx.page.locator(p.selector).first.wait_for(state=p.state, timeout=timeout)
    return {"state": p.state}


_TABLE_JS = """el => Array.from(el.querySelectorAll('tr')).map(
    tr => Array.from(tr.querySelectorAll('th,td')).map(c => c.innerText.trim()))"""


def extract(ctx: ActionContext, p: ExtractParams) -> dict[str, Any]:
    if p.kind == "attribute" and not p.attribute:
        raise Rejected("invalid params for extract: kind=attribute needs 'attribute'")
    locator = ctx.page.locator(p.selector)
    timeout = ctx.remaining_ms()
    if p.all:
        locator.first.wait_for(state="attached", timeout=timeout)
        targets = locator.all()
    else:
        targets = [locator.first]

    def one(loc: Any) -> Any:
        if p.kind == "text":
            return loc.inner_text(timeout=timeout).strip()
        if p.kind == "attribute":
            return loc.get_attribute(p.attribute, timeout=timeout)
        if p.kind == "html":
            return loc.inner_html(timeout=timeout)
        return loc.evaluate(_TABLE_JS)

    values = [one(t) for t in targets]
    return {"values": values} if p.all else {"value": values[0]}


def scroll(ctx: ActionContext, p: ScrollParams) -> dict[str, Any]:
    if p.selector:
        ctx.page.locator(p.selector).scroll_into_view_if_needed(timeout=ctx.remaining_ms())
    elif p.to == "top":
        ctx.page.evaluate("window.scrollTo(0, 0)")
    elif p.to == "bottom":
        ctx.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    else:
        ctx.page.mouse.wheel(p.x, p.y)
    return {"scroll_y": ctx.page.evaluate("window.scrollY")}


def screenshot(ctx: ActionContext, p: ScreenshotParams) -> dict[str, Any]:
    return {"paths": ctx.capture(p.step, screenshot=True, html=False, full_page=p.full_page)}


def snapshot_html(ctx: ActionContext, p: SnapshotParams) -> dict[str, Any]:
    return {"paths": ctx.capture(p.step, screenshot=False, html=True)}


def sleep(ctx: ActionContext, p: SleepParams) -> dict[str, Any]:
    """Pause (pacing between steps); cut short by the deadline."""
    end = time.monotonic() + p.seconds
    while time.monotonic() < end:
        ctx.remaining_ms()
        ctx.page.wait_for_timeout(min(200, (end - time.monotonic()) * 1000))
    return {"slept": p.seconds}


def echo(ctx: ActionContext | None, p: EchoParams) -> dict[str, Any]:
    """Return the params: a command with no browser work, for round-trip checks and benchmarks."""
    return p.model_dump()


GENERIC: dict[str, Action[Any]] = {
    a.name: a
    for a in (
        Action("navigate", NavigateParams, navigate),
        Action("click", SelectorParams, click),
        Action("fill", FillParams, fill),
        Action("type", TypeParams, type_text),
        Action("press", PressParams, press),
        Action("select", SelectParams, select),
        Action("wait_for", WaitForParams, wait_for),
        Action("extract", ExtractParams, extract),
        Action("scroll", ScrollParams, scroll),
        Action("screenshot", ScreenshotParams, screenshot),
        Action("snapshot_html", SnapshotParams, snapshot_html),
        Action("sleep", SleepParams, sleep),
        Action("echo", EchoParams, echo, browser=False),
    )
}
