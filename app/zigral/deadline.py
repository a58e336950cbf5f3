"""A command's deadline, shared by the worker and the browser thread; extended while a person helps."""

from __future__ import annotations

import threading
import time

from zigral.errors import DeadlineExceeded


class Deadline:
    """A point in monotonic time; extended on the browser thread, read on the main one (thread-safe)."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._at = time.monotonic() + seconds

    @property
    def at(self) -> float:
        with self._lock:
            return self._at

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def remaining_ms(self) -> float:
        """Milliseconds left; :class:`DeadlineExceeded` when none are."""
        left = self.remaining() * 1000
        if left <= 0:
            raise DeadlineExceeded("deadline passed")
        return left

    def extend_to_at_least(self, seconds: float) -> None:
        """Make sure at least ``seconds`` remain (used while waiting for an operator)."""
        with self._lock:
            self._at = max(self._at, time.monotonic() + seconds)
