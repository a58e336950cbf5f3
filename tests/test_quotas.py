"""Quotas on a real Redis (its own namespace): taken once per task, right before the side effect."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from zigral.actions import Action, NoParams
from zigral.agents.base import Agent
from zigral.config import QuotaLimit
from zigral.constants import Names
from zigral.errors import OverQuota
from zigral.quotas import QuotaGate
from zigral.runtime.decisions import Finish

from .test_pipeline import Rig, cmd

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday


@pytest.fixture
def namespace(client: redis.Redis) -> Iterator[str]:
    """A namespace of this test's own on the shared Redis, emptied afterwards."""
    ns = "zq" + uuid.uuid4().hex[:8]
    yield ns
    keys = list(client.scan_iter(match=f"{ns}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def gate(client: redis.Redis, namespace: str) -> QuotaGate:
    return QuotaGate(client, Names(namespace), "acct", {"connect": QuotaLimit(day=2, week=3)})


def test_a_task_that_takes_a_quota_twice_is_counted_once(gate: QuotaGate) -> None:
    assert gate.take_once("connect", "task-1", NOW) is None
    assert gate.take_once("connect", "task-1", NOW) is None  # the redelivery after a crash
    assert gate.used("connect", NOW) == (1, 1)


def test_a_full_day_refuses_a_new_task_but_not_one_that_already_took_its_use(gate: QuotaGate) -> None:
    gate.take_once("connect", "a", NOW)
    gate.take_once("connect", "b", NOW)
    full = gate.take_once("connect", "c", NOW)
    assert full is not None and full.window == "day"
    assert gate.take_once("connect", "b", NOW) is None
    assert gate.used("connect", NOW) == (2, 2)


def test_the_week_window_counts_a_task_once_across_days(gate: QuotaGate) -> None:
    gate.take_once("connect", "a", NOW)
    gate.take_once("connect", "a", NOW + dt.timedelta(days=1))
    assert gate.used("connect", NOW + dt.timedelta(days=1)) == (0, 1)


def test_the_action_context_taker_raises_over_quota_with_the_window(gate: QuotaGate) -> None:
    take = gate.taker("t1")
    take("connect")
    gate.taker("t2")("connect")
    with pytest.raises(OverQuota) as raised:
        gate.taker("t3")("connect")
    assert raised.value.quota == "connect" and raised.value.window == "day"
    assert raised.value.reopens_at > dt.datetime.now(dt.UTC).timestamp()
    gate.taker("unlimited")("visit")  # a quota without limits takes nothing and never refuses


# ---------------------------------------------------------------------------- through the command path
def _takes(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise OverQuota("messages", "day", dt.datetime.now(dt.UTC).timestamp() + 3600)


class Taker(Agent):
    name = "lincoln"

    def site_actions(self) -> list[Action[Any]]:
        return [Action("takes", NoParams, _takes, browser=False)]

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return {"messages": QuotaLimit(day=1)}


def test_an_action_over_quota_at_its_side_effect_is_deferred_not_failed(
    client: redis.Redis, namespace: str
) -> None:
    rig = Rig(client, namespace, max_attempts=3)
    rig.agent = rig.pipeline.agent = Taker(rig.agent.settings)
    body = cmd("takes", max_age=86400)
    for _ in range(5):  # more deferrals than max_attempts: waiting for a window is not a failed attempt
        decision = rig.send(body)
        assert type(decision).__name__ == "Defer" and rig.status(body["id"]) == "deferred", decision
    late = cmd("takes", max_age=1)
    decision = rig.send(late)
    assert isinstance(decision, Finish) and decision.status == "rejected"
