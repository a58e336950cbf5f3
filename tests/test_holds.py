"""When an agent checks its site session, and when Chromium is due for a recycle."""

from __future__ import annotations

import time
from typing import Any

import pytest

from zigral.config import load_settings
from zigral.constants import Names
from zigral.holds import NEEDS_HUMAN, RECHECK_WHEN_HELD, RECYCLE, CanarySchedule, Holds
from zigral.ops.recycle import Recycler


def test_a_canary_is_not_due_before_its_interval() -> None:
    schedule = CanarySchedule(900)
    assert not schedule.due()


def test_a_zero_interval_turns_canaries_off() -> None:
    schedule = CanarySchedule(0)
    schedule.next_at = 0
    assert not schedule.due()


def test_while_a_person_is_needed_the_canary_looks_again_sooner(monkeypatch: pytest.MonkeyPatch) -> None:
    schedule = CanarySchedule(900)
    monkeypatch.setattr(time, "monotonic", lambda: 1000.0)
    schedule.done(held=True)
    assert schedule.next_at == 1000.0 + RECHECK_WHEN_HELD
    schedule.done(held=False)
    assert schedule.next_at == 1000.0 + 900


class CountOnly:
    """Stands in for Redis: only the browser command counter is read."""

    def __init__(self, count: int) -> None:
        self.count = count

    def get(self, _key: str) -> Any:
        return str(self.count)


@pytest.mark.parametrize(
    ("pss_mib", "commands", "due"),
    [(100, 10, None), (4000, 10, "memory"), (100, 5000, "commands"), (4000, 5000, "memory")],
)
def test_chromium_is_due_for_a_recycle_past_either_threshold(
    pss_mib: int, commands: int, due: str | None
) -> None:
    settings = load_settings(ops={"recycle_max_pss_mib": 3072, "recycle_max_commands": 5000})
    recycler = Recycler(settings, CountOnly(commands))  # type: ignore[arg-type]
    assert recycler.due(pss_mib * 2**20) == due


def test_zero_thresholds_never_recycle() -> None:
    settings = load_settings(ops={"recycle_max_pss_mib": 0, "recycle_max_commands": 0})
    recycler = Recycler(settings, CountOnly(10**9))  # type: ignore[arg-type]
    assert recycler.due(10**12) is None


class FakeRedis:
    """A dict standing in for Redis (get, set, delete, exists) in these unit tests."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any, ex: int | None = None, xx: bool = False) -> bool | None:
        if xx and key not in self.data:
            return None
        self.data[key] = value
        return True

    def delete(self, *keys: str) -> int:
        return sum(1 for k in keys if self.data.pop(k, None) is not None)

    def exists(self, key: str) -> int:
        return int(key in self.data)

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, client: FakeRedis) -> None:
        self.client = client
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def exists(self, key: str) -> None:
        self.calls.append(("exists", (key,)))

    def execute(self) -> list[Any]:
        return [getattr(self.client, name)(*args) for name, args in self.calls]


def holds(client: FakeRedis) -> Holds:
    return Holds(client, Names("zt"), "shaun", "vm1", "zt:heartbeat:shaun:vm1:42")  # type: ignore[arg-type]


def test_a_signed_out_site_asks_for_a_person_once_and_holds_the_queue() -> None:
    client = FakeRedis()
    h = holds(client)
    assert h.canary_answer({"logged_in": False}, ttl=60) == NEEDS_HUMAN
    assert h.canary_answer({"logged_in": False}, ttl=60) is None  # still out: no second event
    assert h.reason() == NEEDS_HUMAN
    assert "zt:vm:vm1:needs_human:shaun" in client.data


def test_the_session_back_releases_the_queue_with_one_event() -> None:
    client = FakeRedis()
    h = holds(client)
    h.canary_answer({"logged_in": False}, ttl=60)
    assert h.canary_answer({"logged_in": True, "account": "Ops"}, ttl=60) == "session_ok"
    assert h.reason() is None
    assert client.data == {}
    assert h.canary_answer({"logged_in": True}, ttl=60) is None


def test_a_recycle_of_the_vm_holds_before_anything_else() -> None:
    client = FakeRedis()
    h = holds(client)
    h.canary_answer({"logged_in": False}, ttl=60)
    client.set("zt:vm:vm1:recycle", "{}")
    assert h.reason() == RECYCLE


def test_a_restarted_agent_keeps_waiting_for_the_person() -> None:
    client = FakeRedis()
    holds(client).canary_answer({"logged_in": False}, ttl=60)
    again = holds(client)
    again.restore()
    assert again.reason() == NEEDS_HUMAN


def test_an_operator_can_release_an_agent_held_for_a_person() -> None:
    client = FakeRedis()
    h = holds(client)
    h.canary_answer({"logged_in": False}, ttl=60)
    assert h.reason() == NEEDS_HUMAN
    client.delete("zt:vm:vm1:needs_human:shaun")  # zigral resume shaun
    h._checked_at = -1e9  # past the look interval
    assert h.reason() is None
    assert h.human_reason is None


def test_a_canary_refreshing_the_hold_never_undoes_an_operators_release() -> None:
    client = FakeRedis()
    h = holds(client)
    h.canary_answer({"logged_in": False}, ttl=60)
    client.delete("zt:vm:vm1:needs_human:shaun")  # zigral resume, while the canary was looking
    assert h.canary_answer({"logged_in": False}, ttl=60) is None
    assert h.human_reason is None
    assert client.data == {}
