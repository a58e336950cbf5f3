"""Zigral's exceptions: one root, translated from third-party errors where they enter."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An error's first line (Playwright's carry a call log below it), or its type when it says nothing."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class ZigralError(Exception):
    """Root of every error Zigral raises on purpose."""


class ConfigError(ZigralError):
    """A setting is missing or invalid; the message names the key and the value."""


class StackError(ZigralError):
    """The supervised stack could not be started, reached or stopped."""


class NotReady(ZigralError):
    """A part of the stack did not become ready in time."""


class BrokerError(ZigralError):
    """RabbitMQ could not be reached or refused an operation (pika's errors, translated)."""


class Unroutable(BrokerError):
    """A message was published to an exchange with no queue bound for its routing key."""


class StateError(ZigralError):
    """Redis could not be reached or refused an operation (redis-py's errors, translated)."""


class StateUnavailable(StateError):
    """Redis could not be reached (connection refused, lost, timed out): waiting may help. Any other
    StateError is Redis refusing the operation itself, which waiting does not change."""


class TaskError(ZigralError):
    """A command failed. Subclasses say whether trying again may help."""

    retryable = False
    status = "failed"


class Rejected(TaskError):
    """The command can never succeed as sent: malformed, unknown agent or action, bad params, URL refused."""

    status = "rejected"


class Retryable(TaskError):
    """A failure that may pass: a timeout, a navigation error, the browser went away."""

    retryable = True


class BrowserDisconnected(Retryable):
    """Chromium went away during the command."""


class LocatorMissing(TaskError):
    """A site locator found nothing where the page must have it: the site's markup changed, or the page is
    not the one the action expected. Counted per locator (``zigral_locator_misses_total``)."""

    def __init__(self, locator: str, message: str) -> None:
        super().__init__(message)
        self.locator = locator


class OverQuota(TaskError):
    """A quota window is full at the moment an action was about to do its side effect: nothing was done,
    and the command waits (deferred) until the window reopens."""

    status = "deferred"

    def __init__(self, quota: str, window: str, reopens_at: float) -> None:
        super().__init__(f"quota {quota!r} is used up for this {window}")
        self.quota, self.window, self.reopens_at = quota, window, reopens_at


class DeadlineExceeded(TaskError):
    """The command ran past its deadline; its page was closed."""

    status = "timed_out"


class NeedsHuman(TaskError):
    """The site shows something only a person can clear (login wall, captcha, checkpoint)."""

    status = "needs_human"
