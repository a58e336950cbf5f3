"""What a step of the command path decides, and what it works on.

A step returns None to go on, or one decision; ``settle.settle`` carries the decision out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pika

from zigral.actions import Action
from zigral.messages import Command, Result

if TYPE_CHECKING:
    from zigral.runtime.claim import Claim


@dataclass(frozen=True)
class Message:
    """One delivery: the body as received, how it was routed, and a handle the transport acks by."""

    body: bytes
    routing_key: str
    props: pika.BasicProperties
    redelivered: bool = False
    handle: Any = None


@dataclass
class Outcome:
    """What running an action came to."""

    status: str
    result: Any = None
    error: str | None = None
    retryable: bool = False
    captures: list[str] = field(default_factory=list)
    exc: BaseException | None = None  # the error the action raised, for hooks (LocatorMissing...)


@dataclass(frozen=True)
class Finish:
    """A final status: stored, published (event and reply), dead-lettered if asked, acked."""

    status: str
    error: str | None = None
    result: Any = None
    captures: tuple[str, ...] = ()
    dead_letter: bool = False


@dataclass(frozen=True)
class Reject:
    """An invalid message: recorded as ``rejected`` without using its id up, dead-lettered, acked."""

    reason: str
    task_id: str


@dataclass(frozen=True)
class Republish:
    """An id already finished: its stored result published again, acked, not executed."""

    stored: Result


@dataclass(frozen=True)
class Retry:
    """Back through the retry queue after ``delay`` s; recorded as ``queued`` with ``note`` if one is given
    (None: another worker holds the task, nothing to record)."""

    delay: float
    note: str | None = None
    captures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Defer:
    """Not now (a quota window is full): recorded as ``deferred``, back through the deferred queue."""

    delay: float
    note: str


@dataclass(frozen=True)
class Requeue:
    """Given back to its queue as it is (the worker is stopping)."""


@dataclass(frozen=True)
class DeadLetter:
    """Dead-lettered with a reason and acked when nothing can be recorded for it (Redis refuses the id's
    keys, or the body crashed the agent before it could be read)."""

    status: str
    reason: str


Decision = Finish | Reject | Republish | Retry | Defer | Requeue | DeadLetter


@dataclass
class Job:
    """One message on its way through the steps; each step fills in what it learned."""

    message: Message
    fingerprint: str
    command: Command | None = None
    action: Action[Any] | None = None
    params: Any = None
    broker_expired: bool = False
    attempt: int = 0
    locked: bool = False
    quota_taken: bool = False
    tracked: bool = False  # a crash count or a generated id in Redis to forget once settled
    started: float = 0.0
    outcome: Outcome | None = None
    claim: Claim | None = None  # what the claim step found (runtime/claim.py)
    memo: dict[str, Any] = field(default_factory=dict)  # the task's memo, as the action left it

    @property
    def task_id(self) -> str | None:
        return self.command.id if self.command is not None else None
