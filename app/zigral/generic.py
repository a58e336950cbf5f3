"""The generic actions every agent has: params, results and what each does.

Selectors are Playwright selectors: CSS, ``text=…``, ``role=button[name="Send"]``, ``#id``. Every wait is
bounded by the command's deadline (the page's default timeout is the time left).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from zigral.actions import Action, ActionContext, Params, Result
from zigral.errors import Rejected


# ---------------------------------------------------------------------------- params
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
    # Seconds, not Playwright's milliseconds: bounded so that 30000 meant as ms is refused, not waited.
    timeout_s: float | None = Field(
        None,
        gt=0,
        le=600,
        validation_alias=AliasChoices("timeout_s", "timeout"),
        description="seconds (at most 600; `timeout` is accepted as an alias); default: until the deadline",
    )


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


# ---------------------------------------------------------------------------- results
class NavigateResult(Result):
    url: str = Field(description="the page's URL after redirects")
    title: str
    status: int | None = Field(description="the HTTP status of the main document (None: no response)")


class ClickResult(Result):
    clicked: str = Field(description="the selector clicked")


class FillResult(Result):
    filled: str = Field(description="the selector filled")


class TypeResult(Result):
    typed: int = Field(description="characters typed")


class PressResult(Result):
    pressed: str = Field(description="the key pressed")


class SelectResult(Result):
    selected: list[str] = Field(description="the values of the options now selected")


class WaitForResult(Result):
    state: str = Field(description="the state reached")


class ExtractResult(Result):
    value: Any = Field(None, description="without `all`: the first match's text, attribute, HTML or table")
    values: list[Any] | None = Field(None, description="with `all`: one value per match")


class ScrollResult(Result):
    scroll_y: float = Field(description="the page's vertical scroll offset afterwards, in CSS pixels")


class PathsResult(Result):
    paths: list[str] = Field(description="capture files written, relative to the captures directory")


class SleepResult(Result):
    slept: float = Field(description="seconds")


# ---------------------------------------------------------------------------- actions
def navigate(ctx: ActionContext, p: NavigateParams) -> dict[str, Any]:
    """Open a URL in the agent's tab (checked by the URL policy) and wait for `wait_until`."""
    response = ctx.goto(p.url, p.wait_until)
    return {"url": ctx.page.url, "title": ctx.page.title(), "status": response.status if response else None}


def click(ctx: ActionContext, p: SelectorParams) -> dict[str, Any]:
    """Click the first element the selector matches."""
    ctx.page.locator(p.selector).click(timeout=ctx.remaining_ms())
    return {"clicked": p.selector}


def fill(ctx: ActionContext, p: FillParams) -> dict[str, Any]:
    """Replace the value of an input, textarea or contenteditable."""
    ctx.page.locator(p.selector).fill(p.value, timeout=ctx.remaining_ms())
    return {"filled": p.selector}


def type_text(ctx: ActionContext, p: TypeParams) -> dict[str, Any]:
    """Type text key by key into an element, `delay_ms` between keys."""
    ctx.page.locator(p.selector).press_sequentially(p.text, delay=p.delay_ms, timeout=ctx.remaining_ms())
    return {"typed": len(p.text)}


def press(ctx: ActionContext, p: PressParams) -> dict[str, Any]:
    """Press a key or chord, in an element or in the page."""
    if p.selector:
        ctx.page.locator(p.selector).press(p.key, timeout=ctx.remaining_ms())
    else:
        ctx.page.keyboard.press(p.key)
    return {"pressed": p.key}


def select(ctx: ActionContext, p: SelectParams) -> dict[str, Any]:
    """Choose options of a `<select>` by value or by label."""
    locator = ctx.page.locator(p.selector)
    if p.by == "label":
        chosen = locator.select_option(label=p.values, timeout=ctx.remaining_ms())
    else:
        chosen = locator.select_option(value=p.values, timeout=ctx.remaining_ms())
    return {"selected": chosen}


def wait_for(ctx: ActionContext, p: WaitForParams) -> dict[str, Any]:
    """Wait until the selector's first match reaches `state`."""
    timeout = ctx.remaining_ms() if p.timeout_s is None else min(p.timeout_s * 1000, ctx.remaining_ms())
    ctx.page.locator(p.selector).first.wait_for(state=p.state, timeout=timeout)
    return {"state": p.state}


_TABLE_JS = """el => Array.from(el.querySelectorAll('tr')).map(
    tr => Array.from(tr.querySelectorAll('th,td')).map(c => c.innerText.trim()))"""


def extract(ctx: ActionContext, p: ExtractParams) -> dict[str, Any]:
    """Read text, an attribute, HTML or a table from the first match (or every match with `all`)."""
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
    """Scroll an element into view, the page to its top or bottom, or by `x`, `y` pixels."""
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
    """Save a PNG of the tab (the viewport, or the whole page) under captures/."""
    return {"paths": ctx.capture(p.step, screenshot=True, html=False, full_page=p.full_page)}


def snapshot_html(ctx: ActionContext, p: SnapshotParams) -> dict[str, Any]:
    """Save the tab's HTML under captures/, password values blanked."""
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
        Action("navigate", NavigateParams, navigate, result=NavigateResult),
        Action("click", SelectorParams, click, result=ClickResult),
        Action("fill", FillParams, fill, result=FillResult),
        Action("type", TypeParams, type_text, result=TypeResult),
        Action("press", PressParams, press, result=PressResult),
        Action("select", SelectParams, select, result=SelectResult),
        Action("wait_for", WaitForParams, wait_for, result=WaitForResult),
        Action("extract", ExtractParams, extract, result=ExtractResult),
        Action("scroll", ScrollParams, scroll, result=ScrollResult),
        Action("screenshot", ScreenshotParams, screenshot, result=PathsResult),
        Action("snapshot_html", SnapshotParams, snapshot_html, result=PathsResult),
        Action("sleep", SleepParams, sleep, result=SleepResult),
        Action("echo", EchoParams, echo, browser=False),
    )
}
