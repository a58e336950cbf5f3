"""Running a job's action: the executor the pipeline calls, and an action's exception as an outcome."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from zigral.constants import FAILED, SUCCEEDED
from zigral.deadline import Deadline
from zigral.errors import TaskError, first_line
from zigral.runtime.decisions import Job, Outcome

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs a job's action; None when it was handed back because the worker is stopping."""

    def __call__(self, job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome | None: ...


def outcome_of(exc: Exception, captures: list[str] | None = None) -> Outcome:
    """An action's exception as an outcome: a TaskError says its status; anything else is a bug."""
    if isinstance(exc, TaskError):
        return Outcome(
            exc.status, error=first_line(exc), retryable=exc.retryable, captures=captures or [], exc=exc
        )
    log.error("action raised %s", type(exc).__name__, exc_info=exc)
    return Outcome(
        FAILED, error=f"internal error: {type(exc).__name__}: {exc}", captures=captures or [], exc=exc
    )


def run_inline(job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome:
    """Run an action that needs no browser, on the calling thread."""
    assert job.action is not None
    try:
        return Outcome(SUCCEEDED, job.action.run(None, job.params))
    except Exception as exc:  # a bug in an action must not kill the worker
        return outcome_of(exc)
