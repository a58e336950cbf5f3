"""Human pacing that fits the command's deadline: pauses and keystroke delays shrink to the time left.

An action plans its pacing up front (how many pauses, how many keystrokes). At the configured bounds its
worst case is ``pauses * pause_max + keys * keystroke_max``; when that does not fit the time left minus a
reserve for page loads and checks, every delay is scaled down by the same factor, so a 300-character note
still fits a 60 s command instead of timing out half-typed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


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
        budget = max(0.0, remaining - self.reserve)
        scale = 1.0 if worst <= budget else budget / worst
        return Pacer(self, scale)


@dataclass(frozen=True)
class Pacer:
    """The delays of one action run; ``scale`` 1 is the configured pacing."""

    bounds: PacingBounds
    scale: float

    @property
    def typing_off(self) -> bool:
        return self.bounds.keystroke_max_ms <= 0

    def pause(self) -> float:
        b = self.bounds
        return random.uniform(b.pause_min, max(b.pause_min, b.pause_max)) * self.scale

    def keystroke_ms(self) -> float:
        b = self.bounds
        return random.uniform(b.keystroke_min_ms, max(b.keystroke_min_ms, b.keystroke_max_ms)) * self.scale

    def worst_case(self, pauses: int, keys: int) -> float:
        """Seconds of pacing this plan can take at most."""
        return self.bounds.worst_case(pauses, keys) * self.scale
