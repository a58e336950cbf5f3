from __future__ import annotations

import json

import pytest

from zigral.errors import Rejected
from zigral.messages import Command, Result, peek_id


def test_a_command_round_trips_through_encode_and_decode() -> None:
    command = Command(agent="lincoln", action="navigate", params={"url": "https://x.test/"}, priority="high")
    assert Command.decode(command.encode(), max_bytes=10_000) == command
    assert command.amqp_priority == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "malformed JSON"),
        (b"[1, 2]", "a command is a JSON object"),
        (json.dumps({"agent": "lincoln"}).encode(), "action: Field required"),
        (json.dumps({"agent": "lincoln", "action": "x", "priority": "urgent"}).encode(), "priority"),
        (json.dumps({"agent": "lincoln", "action": "x", "surprise": 1}).encode(), "surprise"),
        (json.dumps({"agent": "lincoln", "action": "x", "version": 2}).encode(), "version"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_an_invalid_body_is_rejected_with_a_reason_naming_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        Command.decode(body, max_bytes=10_000)


def test_an_oversized_body_is_rejected_before_parsing() -> None:
    with pytest.raises(Rejected, match="exceeds the limit of 100"):
        Command.decode(b" " * 101, max_bytes=100)


def test_the_id_of_a_rejected_body_is_recovered_when_it_can_be() -> None:
    assert peek_id(json.dumps({"id": "abc-1", "action": 3}).encode()) == "abc-1"
    assert peek_id(b"{broken") is None
    assert peek_id(json.dumps({"id": "bad id with spaces"}).encode()) is None


def test_commands_are_immutable() -> None:
    command = Command(agent="shaun", action="echo")
    with pytest.raises(ValueError):
        command.action = "other"  # type: ignore[misc]


def test_a_result_round_trips() -> None:
    result = Result(id="1", agent="shaun", action="echo", status="succeeded", result={"a": [1]})
    assert Result.decode(result.encode()) == result
