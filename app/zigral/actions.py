"""What an action is (params model, result model, a function of context and params) and what it may use.

The generic actions every agent has live in :mod:`zigral.generic`; each agent adds its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from pydantic import BaseModel, ConfigDict, ValidationError

from zigral.browser import UPSTREAM_REFUSED
from zigral.captures import CaptureStore, scrub_passwords
from zigral.constants import RESUMABLE
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
    # Take one use of a quota right before a side effect; raises OverQuota when its window is full. Taking
    # it twice in one task counts once (a redelivery after a crash).
    take_quota: Callable[[str], None] = lambda quota: None

    def resumable(self) -> None:
        """From here on a timeout is retried with the memo (the retry repairs what this attempt began)
        instead of final: call it before a side effect that running again completes, never duplicates."""
        self.memo[RESUMABLE] = True
        self.remember(RESUMABLE, True)

    def missing(self, locator: str, what: str) -> LocatorMissing:
        """Count a locator miss and return its error: ``raise ctx.missing("profile_name", "...")``."""
        self.on_locator_miss(locator)
        return LocatorMissing(locator, f"locator {locator} found nothing: {what}")

    def remaining_ms(self) -> float:
        return self.deadline.remaining_ms()

    def goto(self, url: str, wait_until: str = "load") -> Any:
        self.policy.check(url)
        refused: list[int] = []  # a 407 with an empty body reaches goto only as a generic net::ERR_

        def on_response(resp: Any) -> None:
            if resp.status == 407 and resp.request.is_navigation_request():
                refused.append(resp.status)

        self.page.on("response", on_response)
        try:
            response = self.page.goto(url, wait_until=wait_until, timeout=self.remaining_ms())  # type: ignore[arg-type]
        except PlaywrightError:
            if refused:
                raise TaskError(UPSTREAM_REFUSED) from None
            raise
        finally:
            self.page.remove_listener("response", on_response)
        if response is not None:
            proxy_error = response.headers.get("x-squid-error", "")
            if proxy_error.startswith("ERR_ACCESS_DENIED"):
                self.on_egress_denied()
                raise Rejected(
                    f"the egress proxy refused {response.url} (a redirect to an internal address?)"
                )
            if response.status == 407 or proxy_error.startswith("ERR_CACHE_ACCESS_DENIED"):
                raise TaskError(UPSTREAM_REFUSED)
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
    """An action's parameters: strict (no strings in number fields, no NaN or Infinity), no extra keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Result(BaseModel):
    """An action's result: every field documented; extra fields are a bug in the action."""

    model_config = ConfigDict(extra="forbid")


class AnyResult(BaseModel):
    """A result whose fields are the caller's own (``echo`` returns its params)."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class Action(Generic[P]):
    """One action: its params and result models and what it does. ``browser`` False: runs without a tab.

    The models are the published catalogue (``zigral schema --list``): params are validated strictly
    against ``params`` before the action runs, and what the action returns is validated against
    ``result`` before it is stored, so a result never carries an undocumented or mistyped field.
    """

    name: str
    params: type[P]
    fn: Callable[[ActionContext, P], Any]
    browser: bool = True
    quota: str | None = None  # a per-account quota one run takes (see quotas.py)
    result: type[BaseModel] = AnyResult

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())

    def parse(self, raw: dict[str, Any]) -> P:
        try:
            return self.params.model_validate(raw)
        except ValidationError as exc:
            raise Rejected(f"invalid params for {self.name}: {describe(exc)}") from None

    def run(self, ctx: Any, params: P) -> dict[str, Any]:
        """Run the action and return its result as JSON-ready data, validated by the result model."""
        produced = self.fn(ctx, params)
        try:
            model = self.result.model_validate(produced)
        except ValidationError as exc:
            raise TaskError(
                f"internal error: {self.name} produced an invalid result: {describe(exc)}"
            ) from None
        return model.model_dump(mode="json", exclude_unset=True)


# ---------------------------------------------------------------------------- params
class NoParams(Params):
    """An action that takes nothing (``{}``)."""
