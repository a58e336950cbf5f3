from __future__ import annotations

from typing import Any

import pytest

from zigral.config import Settings
from zigral.ops import queues


def test_a_queue_the_management_api_lists_without_figures_is_not_read_as_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: dict[str, Any] = {"name": "zigral.lincoln", "consumers": 1}  # just after a broker restart
    monkeypatch.setattr(queues, "_get_json", lambda url, timeout: answers)
    with pytest.raises(ValueError, match=r"no figures for zigral\.lincoln yet"):
        queues.from_management(Settings(), ["zigral.lincoln"])
    fallback = [queues.QueueStats("zigral.lincoln", 1000, consumers=1)]
    monkeypatch.setattr(queues, "from_amqp", lambda settings, names: fallback)
    assert queues.queue_stats(Settings(), ["zigral.lincoln"]) == ("amqp", fallback)
    answers.update(messages_ready=1000, messages_unacknowledged=1, head_message_timestamp=None)
    source, stats = queues.queue_stats(Settings(), ["zigral.lincoln"])
    assert source == "management" and stats[0].ready == 1000


def test_a_listing_with_a_queue_without_figures_is_not_read_as_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    listing = {"page_count": 1, "items": [{"name": "zigral.lincoln.acct.a", "consumers": 0}]}
    monkeypatch.setattr(queues, "_get_json", lambda url, timeout: listing)
    with pytest.raises(ValueError, match="no figures"):
        queues.matching_from_management(Settings(), "^zigral")
