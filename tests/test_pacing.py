"""Lincoln's pacing fits the command's deadline (zigral/agents/pacing.py)."""

from __future__ import annotations

import random

from zigral.agents.lincoln.models import NOTE_LIMIT
from zigral.agents.lincoln.pacing import KEY_OVERHEAD_MS, PacingBounds
from zigral.agents.lincoln.settings import LincolnSettings
from zigral.config import Settings


def default_bounds() -> PacingBounds:
    li = LincolnSettings()
    return PacingBounds(
        li.pause_min, li.pause_max, li.keystroke_min_ms, li.keystroke_max_ms, li.pacing_reserve
    )


def test_a_300_character_note_fits_the_default_timeout_at_default_pacing() -> None:
    bounds, timeout = default_bounds(), Settings().runtime.default_timeout
    # send_connection plans 4 pauses (profile, More, dialog, after typing) and one keystroke per character.
    unscaled = bounds.worst_case(4, NOTE_LIMIT)
    assert unscaled > timeout - bounds.reserve  # 58 s at the bounds: it would not fit as configured
    pacer = bounds.plan(timeout, 4, NOTE_LIMIT)
    # 45 s at most for pauses and keystrokes (their delays and their own round trips), 15 s for the rest
    assert pacer.worst_case(4, NOTE_LIMIT) <= timeout - bounds.reserve
    assert not pacer.typing_off
    random.seed(1)
    delays = sum(pacer.keystroke_ms() + KEY_OVERHEAD_MS for _ in range(NOTE_LIMIT)) / 1000
    assert sum(pacer.pause() for _ in range(4)) + delays <= timeout - bounds.reserve


def test_pacing_is_as_configured_when_the_deadline_leaves_room() -> None:
    bounds = default_bounds()
    assert bounds.plan(600, 4, NOTE_LIMIT).scale == 1.0


def test_no_time_left_beyond_the_reserve_means_no_pauses_at_all() -> None:
    pacer = default_bounds().plan(10, 3, 50)
    assert pacer.scale == 0 and pacer.pause() == 0 and pacer.typing_off


def test_a_message_too_long_to_type_in_time_is_inserted_line_by_line() -> None:
    pacer = default_bounds().plan(60, 3, 8000)  # 8,000 keys would take 80 s of round trips alone
    assert pacer.typing_off and pacer.pause() == 0
    assert default_bounds().plan(60, 3, 500).typing_off is False
