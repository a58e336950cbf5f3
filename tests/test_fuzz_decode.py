"""Property tests over the decoder: no input makes it raise anything but Rejected, and what it accepts is
exactly the published schema."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zigral.constants import Names
from zigral.errors import Rejected
from zigral.messages import MAX_DEPTH, Command, nesting_depth, parse_body, peek_id

LIMIT = 256 * 1024
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
ids = st.from_regex(r"\A[A-Za-z0-9._:-]{1,128}\Z")


def decodes_or_rejects(body: bytes) -> Command | None:
    try:
        return Command.decode(body, LIMIT)
    except Rejected:
        return None


@FAST
@given(st.binary(max_size=2048))
def test_any_bytes_decode_or_are_rejected_and_nothing_else(body: bytes) -> None:
    decodes_or_rejects(body)
    peek_id(body)


@FAST
@given(st.text(alphabet='[]{}"\\:,0123456789abc \ud800', max_size=400))
def test_any_bracket_soup_is_bounded_and_never_crashes_the_decoder(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    decodes_or_rejects(body)
    assert nesting_depth(text, MAX_DEPTH) <= MAX_DEPTH + 1


@FAST
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_an_accepted_body_holds_only_finite_numbers_and_encodable_text(data: dict[str, Any]) -> None:
    body = json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")
    try:
        parsed = parse_body(body, LIMIT)
    except Rejected:
        return
    text = json.dumps(parsed, allow_nan=False, ensure_ascii=False)  # raises on NaN/Infinity
    text.encode("utf-8")  # raises on a lone surrogate


@FAST
@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH))
def test_nesting_past_the_limit_is_rejected_before_parsing(depth: int) -> None:
    params = "1"
    for _ in range(depth):
        params = '{"p": ' + params + "}"
    body = ('{"agent": "lincoln", "action": "echo", "params": ' + params + "}").encode()
    command = decodes_or_rejects(body)
    assert (command is not None) == (depth + 1 <= MAX_DEPTH)


@FAST
@given(
    task_id=ids,
    priority=st.sampled_from(["low", "normal", "high", "critical"]),
    timeout=st.none() | st.floats(min_value=0.001, max_value=3600, allow_nan=False),
    params=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=5),
    capture=st.booleans(),
)
def test_a_valid_command_round_trips(
    task_id: str, priority: str, timeout: float | None, params: dict[str, Any], capture: bool
) -> None:
    command = Command(
        id=task_id,
        agent="shaun",
        action="echo",
        params=params,
        priority=priority,
        timeout=timeout,
        capture=capture,
    )  # type: ignore[arg-type]
    assert Command.decode(command.encode(), LIMIT) == command


@FAST
@given(
    field=st.sampled_from(["timeout", "max_age", "created_at"]),
    value=st.text(max_size=5) | st.booleans() | st.just(math.nan) | st.just(math.inf),
)
def test_a_number_field_takes_only_finite_numbers(field: str, value: Any) -> None:
    body = json.dumps({"agent": "lincoln", "action": "echo", field: value}).encode()
    assert decodes_or_rejects(body) is None


@FAST
@given(a=ids, b=ids)
def test_no_id_reaches_another_tasks_key_or_a_fixed_key(a: str, b: str) -> None:
    names = Names("zigral")
    fixed = {names.recent_key, names.events_stream, names.heartbeats_index, names.epoch_key}
    per_id = [names.task_key, names.history_key, names.lock_key]
    for i, one in enumerate(per_id):
        assert one(a) not in fixed
        for j, other in enumerate(per_id):
            if (i, a) != (j, b):
                assert one(a) != other(b)
