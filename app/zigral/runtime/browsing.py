"""A job's action on the agent's work tab: its ActionContext, its captures, its outcome. Runs on the
browser thread (Playwright's sync API is bound to it); the worker waits for it on the main thread."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from zigral.actions import ActionContext
from zigral.browser import BrowserSession
from zigral.captures import CaptureStore
from zigral.deadline import Deadline
from zigral.errors import DeadlineExceeded, OverQuota, Rejected, Retryable, StateError
from zigral.metrics import AgentMetrics
from zigral.quotas import QuotaGate
from zigral.runtime.decisions import Job, Outcome
from zigral.runtime.execute import outcome_of
from zigral.state import TaskStore
from zigral.urlpolicy import UrlPolicy


class BrowserRunner:
    """Everything an action may use, wired to the agent's metrics, store and quotas."""

    def __init__(
        self,
        browser: BrowserSession,
        policy: UrlPolicy,
        captures: CaptureStore,
        metrics: AgentMetrics,
        store: TaskStore,
        quotas: QuotaGate,
    ) -> None:
        self.browser = browser
        self.policy = policy
        self.captures = captures
        self.metrics = metrics
        self.agent = metrics.agent
        self.store = store
        self.quotas = quotas
        self.reports: queue.Queue[tuple[str, str | None]] = queue.Queue()  # read on the main thread

    def run(self, job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome:
        command, action = job.command, job.action
        assert command is not None and action is not None
        ctx_box: list[ActionContext] = []

        def work(page: Any) -> Any:
            ctx = ActionContext(
                page,
                command.id,
                deadline,
                self.policy,
                self.captures,
                on_capture=self.count_capture,
                report=lambda status, note: self.reports.put((status, note)),
                memo=memo,
                remember=lambda key, value: self.remember(command.id, key, value),
                on_egress_denied=self.metrics.egress_denied.labels(self.agent).inc,
                on_locator_miss=lambda locator: self.metrics.locator_misses.labels(self.agent, locator).inc(),
                take_quota=self.quotas.taker(command.id),
            )
            ctx_box.append(ctx)
            result = action.run(ctx, job.params)
            if command.capture:
                ctx.capture("result")
            if deadline.passed():
                raise DeadlineExceeded(f"finished {-deadline.remaining():.1f}s past the deadline")
            return result

        try:
            # A navigation leaves the page it finds: the moment to give the work tab a fresh one if due.
            result = self.browser.run(deadline, work, navigates=action.name == "navigate")
            return Outcome("succeeded", result, captures=ctx_box[0].saved if ctx_box else [])
        except Exception as exc:  # a bug in an action must not kill the worker
            saved = ctx_box[0].saved if ctx_box else []
            # What the tab showed when it went wrong (a bug in an action included); not for a command
            # refused as sent, nor for one that only waits for its quota window.
            if not isinstance(exc, (Rejected, OverQuota)):
                saved = saved + self.browser.capture_on_failure(self.failure_capture(command.id))
            return outcome_of(exc, saved)

    def remember(self, task_id: str, key: str, value: Any) -> None:
        """Runs on the browser thread (redis-py is thread-safe); a lost Redis makes the attempt retryable."""
        try:
            self.store.remember(task_id, key, value)
        except StateError as exc:
            raise Retryable(f"could not record progress: {exc}") from None

    def failure_capture(self, task_id: str) -> Callable[[Any], list[str]]:
        def save(page: Any) -> list[str]:
            ctx = ActionContext(
                page, task_id, Deadline(15), self.policy, self.captures, on_capture=self.count_capture
            )
            return ctx.capture("failure")

        return save

    def count_capture(self, kind: str, size: int) -> None:
        self.metrics.capture_bytes.labels(self.agent, kind).inc(size)
