"""Cross-cutting concerns around the command path, as hooks (dramatiq's middleware shape).

A hook sees a job before and after its action runs and after its decision is settled; it never decides.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from zigral.constants import REJECTED, SUCCEEDED
from zigral.errors import StateError
from zigral.holds import Holds
from zigral.metrics import AgentMetrics
from zigral.quotas import QuotaGate
from zigral.runtime.decisions import (
    DeadLetter,
    Decision,
    Finish,
    Job,
    Outcome,
    Reject,
    Requeue,
    Retry,
)
from zigral.runtime.settle import Redis

log = logging.getLogger(__name__)


class Hook:
    """Does nothing; a hook overrides what it needs."""

    def before_execute(self, job: Job) -> None:
        """The job's action is about to run (its attempt is counted, its record says ``running``)."""

    def after_execute(self, job: Job, outcome: Outcome | None) -> None:
        """The action ran (``outcome`` None: it was handed back because the worker is stopping)."""

    def after_settle(self, job: Job, decision: Decision) -> None:
        """The decision is stored, published and acked."""


class MetricsHook(Hook):
    """``zigral_commands_total`` and the other per-command metrics of metrics.AgentMetrics.

    A site locator that finds nothing is counted where the action raises it (``ActionContext.missing``
    calls ``on_locator_miss``); ``after_execute`` sees the exception too (``outcome.exc``).
    """

    def __init__(self, metrics: AgentMetrics, known_actions: set[str]) -> None:
        self.metrics = metrics
        self.agent = metrics.agent
        self.known = known_actions
        self.counts: Counter[str] = Counter()  # for the shutdown summary

    def before_execute(self, job: Job) -> None:
        job.started = time.monotonic()
        self.metrics.in_progress.labels(self.agent).inc()

    def after_execute(self, job: Job, outcome: Outcome | None) -> None:
        self.metrics.in_progress.labels(self.agent).dec()
        if outcome is not None and job.command is not None:
            action = self._action(job)
            self.metrics.duration.labels(self.agent, action).observe(time.monotonic() - job.started)

    def after_settle(self, job: Job, decision: Decision) -> None:
        if isinstance(decision, Finish | Reject | DeadLetter):
            status = decision.status if isinstance(decision, Finish | DeadLetter) else REJECTED
            self.metrics.commands.labels(self.agent, self._action(job), status).inc()
            self.counts[status] += 1
            if status == SUCCEEDED:
                self.metrics.last_success.labels(self.agent).set_to_current_time()
            if not isinstance(decision, Finish) or decision.dead_letter:
                self.metrics.dead_letters.labels(self.agent, status).inc()
        elif isinstance(decision, Retry) and decision.note is not None:
            self.metrics.retries.labels(self.agent).inc()
            self.counts["retried"] += 1
        elif not isinstance(decision, Retry | Requeue):
            self.counts[type(decision).__name__.lower()] += 1

    def _action(self, job: Job) -> str:
        name = job.command.action if job.command is not None else "unknown"
        return name if name in self.known else "unknown"


class QuotaHook(Hook):
    """Gives a taken quota use back when the action did not use it: it did nothing (``"sent": false``),
    was rejected, or never ran (attempts used up, handed back at shutdown is not counted as unused)."""

    def __init__(self, quotas: QuotaGate, redis: Redis) -> None:
        self.quotas = quotas
        self.redis = redis

    def after_settle(self, job: Job, decision: Decision) -> None:
        if not job.quota_taken or job.action is None or job.action.quota is None:
            return
        outcome = job.outcome
        if outcome is None:
            unused = not isinstance(decision, Requeue)
        else:
            did_nothing = isinstance(outcome.result, dict) and outcome.result.get("sent") is False
            unused = did_nothing or outcome.status == REJECTED
        if unused:
            self.redis(self.quotas.give_back, job.action.quota)
            job.quota_taken = False


class HoldsHook(Hook):
    """Counts browser commands toward the recycle of Chromium (ops.recycle_max_commands)."""

    def __init__(self, holds: Holds) -> None:
        self.holds = holds

    def after_execute(self, job: Job, outcome: Outcome | None) -> None:
        if job.action is not None and job.action.browser:
            try:
                self.holds.count_browser_command()
            except StateError as exc:  # a count, not worth holding the command for
                log.warning("browser command not counted: %s", exc)
