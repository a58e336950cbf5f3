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
        (json.dumps({"agent": "lincoln", "action": "x", "version": 3}).encode(), "version"),
        (b"\xff\xfe", "malformed JSON"),
    ],
)
def test_an_invalid_body_is_rejected_with_a_reason_naming_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        Command.decode(body, max_bytes=10_000)


def test_an_oversized_body_is_rejected_before_parsing() -> None:
    with pytest.raises(Rejected, match="exceeds the limit of 100"):
        Command.decode(b" " * 101, max_bytes=100)


def test_the_id_of_an_oversized_body_is_read_from_its_first_key_without_parsing() -> None:
    body = json.dumps({"id": "big-1", "params": {"x": "a" * 5000}}).encode()
    assert peek_id(body, max_bytes=1000) == "big-1"
    assert peek_id(json.dumps({"params": {}, "id": "big-2"}).encode() + b" " * 2000, max_bytes=1000) is None


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


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"agent": "lincoln", "action": "echo", "params": {"s": "\\ud800"}}', "lone UTF-16 surrogate"),
        (b'{"agent": "lincoln", "action": "echo", "params": {"s": "\xed\xa0\x80"}}', "not UTF-8"),
        (json.dumps({"agent": "lincoln", "action": "echo"}).encode("utf-16"), "not UTF-8"),
        (json.dumps({"agent": "lincoln", "action": "echo"}).encode("utf-32"), "not UTF-8"),
        (b"[" * 1200 + b"]" * 1200, "nested deeper than 32 levels"),
        (('{"params": ' + '{"p": ' * 400 + "1" + "}" * 400 + "}").encode(), "nested deeper than 32 levels"),
        (b'{"agent": "lincoln", "agent": "shaun", "action": "echo"}', "duplicate key 'agent'"),
        (b'{"agent": "lincoln", "action": "echo", "created_at": NaN}', "NaN is not a JSON number"),
        (b'{"agent": "lincoln", "action": "echo", "timeout": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"agent": "lincoln", "action": "echo", "max_age": 1e400}', "out of range"),
        (b'{"agent": "lincoln", "action": "echo", "timeout": ' + b"9" * 5000 + b"}", "malformed JSON"),
    ],
)
def test_a_poison_body_is_rejected_before_it_can_hurt(body: bytes, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        Command.decode(body, max_bytes=100_000)
    assert peek_id(body) is None


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_age": "60"}, "max_age"),
        ({"created_at": False}, "created_at"),
        ({"capture": 1}, "capture"),
        ({"capture": "true"}, "capture"),
        ({"version": True}, "version"),
        ({"version": 1.0}, "version"),
        ({"id": 7}, "id"),
    ],
)
def test_the_envelope_is_strict_no_strings_or_booleans_for_numbers(
    fields: dict[str, object], where: str
) -> None:
    body = json.dumps({"agent": "lincoln", "action": "echo", **fields}).encode()
    with pytest.raises(Rejected, match=f"invalid command: {where}"):
        Command.decode(body, max_bytes=10_000)


def test_an_integer_is_a_number_and_a_nesting_within_the_limit_is_fine() -> None:
    params = {"a": [[[[{"b": 1}]]]]}
    body = json.dumps({"agent": "lincoln", "action": "echo", "timeout": 5, "params": params}).encode()
    command = Command.decode(body, max_bytes=10_000)
    assert command.timeout == 5.0 and command.params == params


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = json.dumps({"agent": "lincoln", "action": "echo", "params": {"s": "[{" * 100 + '\\"'}}).encode()
    assert Command.decode(body, max_bytes=10_000).params["s"].startswith("[{[{")
