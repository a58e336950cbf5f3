"""Human pacing that fits the command's deadline: pauses and keystroke delays shrink to the time left.

An action plans its pacing up front (how many pauses, how many keystrokes). At the configured bounds its
worst case is ``pauses * pause_max + keys * keystroke_max``; when that does not fit the time left minus a
reserve for page loads and checks, every delay is scaled down by the same factor, so a 300-character note
still fits a 60 s command instead of timing out half-typed. A keystroke also costs its own round trip to
the browser (``KEY_OVERHEAD_MS``); when even that does not fit (an 8,000-character message in a minute), the
text is inserted a line at a time instead of typed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KEY_OVERHEAD_MS = 10.0  # a typed key's own cost (a CDP round trip), on top of its delay


@dataclass(frozen=True)
class PacingBounds:
    pause_min: float  # seconds
    pause_max: float
    keystroke_min_ms: float
    keystroke_max_ms: float
    reserve: float  # seconds kept for navigation, reading and verification

    def worst_case(self, pauses: int, keys: int) -> float:
        """Seconds of pacing at the bounds, unscaled."""
        return pauses * max(self.pause_min, self.pause_max) + keys * self.keystroke_max_ms / 1000

    def plan(self, remaining: float, pauses: int, keys: int) -> Pacer:
        worst = self.worst_case(pauses, keys)
        budget = remaining - self.reserve - keys * KEY_OVERHEAD_MS / 1000
        if budget <= 0:  # not even the keystrokes themselves fit: no pauses, text inserted
            return Pacer(self, 0.0, insert=True)
        return Pacer(self, 1.0 if worst <= budget else budget / worst)


@dataclass(frozen=True)
class Pacer:
    """The delays of one action run; ``scale`` 1 is the configured pacing."""

    bounds: PacingBounds
    scale: float
    insert: bool = False  # no time to type key by key

    @property
    def typing_off(self) -> bool:
        return self.insert or self.bounds.keystroke_max_ms <= 0

    def pause(self) -> float:
        b = self.bounds
        return random.uniform(b.pause_min, max(b.pause_min, b.pause_max)) * self.scale

    def keystroke_ms(self) -> float:
        b = self.bounds
        return random.uniform(b.keystroke_min_ms, max(b.keystroke_min_ms, b.keystroke_max_ms)) * self.scale

    def worst_case(self, pauses: int, keys: int) -> float:
        """Seconds this plan can take at most for its pauses and keystrokes (typed keys' own cost too)."""
        typed = 0 if self.typing_off else keys * KEY_OVERHEAD_MS / 1000
        return self.bounds.worst_case(pauses, keys) * self.scale + typed
