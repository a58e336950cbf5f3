from __future__ import annotations

from typing import Any, cast

import pytest

from zigral.broker import AgentEventOutbox, Publisher
from zigral.errors import BrokerError


class FlakyPublisher:
    """Takes agent events while ``up``; raises BrokerError like a dropped connection otherwise."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def agent_event(self, agent: str, kind: str, data: dict[str, Any]) -> None:
        if not self.up:
            raise BrokerError("publish to 'agent.shaun.needs_human': StreamLostError")
        self.sent.append((agent, kind, data))


def test_an_agent_event_that_cannot_be_sent_waits_and_goes_out_in_order_after_the_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = AgentEventOutbox()
    down = FlakyPublisher(up=False)
    outbox.add("shaun", "needs_human", {"reason": "signed out"})
    outbox.flush(cast(Publisher, down))
    outbox.add("shaun", "session_ok", {"logged_in": True})
    outbox.flush(None)  # not connected at all
    assert len(outbox) == 2 and down.sent == []
    assert "needs_human not sent yet" in caplog.text

    up = FlakyPublisher(up=True)
    outbox.flush(cast(Publisher, up))
    assert [kind for _, kind, _ in up.sent] == ["needs_human", "session_ok"]
    assert len(outbox) == 0


def test_the_outbox_keeps_only_the_newest_events_past_its_limit() -> None:
    outbox = AgentEventOutbox(limit=2)
    for n in range(3):
        outbox.add("lincoln", f"e{n}", {})
    up = FlakyPublisher(up=True)
    outbox.flush(cast(Publisher, up))
    assert [kind for _, kind, _ in up.sent] == ["e1", "e2"]
