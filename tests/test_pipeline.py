"""The command path, every branch, against an in-memory broker and a real Redis (its own namespace)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from zigral.actions import Action, NoParams
from zigral.agents.base import Agent
from zigral.config import QuotaLimit, RuntimeSettings, Settings
from zigral.constants import FAILED, RESUMABLE, TIMED_OUT, Names
from zigral.deadline import Deadline
from zigral.errors import LocatorMissing, Rejected, Retryable, StateUnavailable
from zigral.messages import fingerprint
from zigral.metrics import AgentMetrics
from zigral.quotas import QuotaGate
from zigral.runtime.decisions import DeadLetter, Finish, Job, Outcome, Reject, Republish, Requeue, Retry
from zigral.runtime.execute import run_inline
from zigral.runtime.hooks import MetricsHook, QuotaHook
from zigral.runtime.memory import MemoryTransport, back_from, message
from zigral.runtime.pipeline import Pipeline
from zigral.runtime.settle import Redis
from zigral.state import TaskStore


class Crash(BaseException):
    """What a process death looks like from inside: nothing after it runs."""


class SendParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sent: bool = True


def _boom(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise ValueError("a bug in the action")


def _flaky(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise Retryable("navigation error: the site did not answer")


def _refuse(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise Rejected("URL refused: file:///etc/passwd")


def _missing(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise LocatorMissing("profile_name", "locator profile_name found nothing")


def _frozen(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise AssertionError("the rig's executor answers for a frozen browser")


def _send(ctx: Any, p: SendParams) -> dict[str, Any]:
    return {"sent": p.sent}


class Probe(Agent):
    name = "lincoln"

    def site_actions(self) -> list[Action[Any]]:
        return [
            Action("boom", NoParams, _boom, browser=False),
            Action("flaky", NoParams, _flaky, browser=False),
            Action("refuse", NoParams, _refuse, browser=False),
            Action("missing", NoParams, _missing, browser=False),
            Action("send", SendParams, _send, browser=False, quota="messages"),
            Action("frozen", NoParams, _frozen, browser=False),
            Action("frozen_mid_write", NoParams, _frozen, browser=False),
        ]

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return {"messages": QuotaLimit(day=1)}


class Rig:
    """A pipeline on an in-memory broker, with what it stored in Redis at hand."""

    def __init__(self, client: redis.Redis, namespace: str, **runtime: Any) -> None:
        self.rt = RuntimeSettings(namespace=namespace, retry_base_delay=0.1, **runtime)
        self.agent = Probe(Settings(runtime=self.rt))
        self.names = Names(namespace)
        self.store = TaskStore(client, self.names, retention=300, events_maxlen=1000)
        self.broker = MemoryTransport()
        self.quotas = QuotaGate(client, self.names, "acct", self.agent.quota_limits)
        self.registry = CollectorRegistry()
        self.crash_on: set[str] = set()
        self.executed: list[str] = []
        self.hand_back = False
        self.slow_once: set[str] = set()  # ids whose first run fails retryably ("site slow")
        redis_calls = Redis(pause=lambda s: None, giving_up=lambda: True)
        self.pipeline = Pipeline(
            self.rt,
            self.agent,
            self.store,
            self.broker,
            vm_id="vm-t",
            owner=self.names.heartbeat_key("lincoln", "vm-t", 1),
            quotas=self.quotas,
            executor=self.execute,
            hooks=[
                MetricsHook(AgentMetrics("lincoln", self.registry), set(self.agent.actions)),
                QuotaHook(self.quotas, redis_calls),
            ],
            redis=redis_calls,
        )

    def execute(self, job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome | None:
        assert job.command is not None
        self.executed.append(job.command.id)
        if job.command.id in self.crash_on or job.command.params.get("crash"):
            raise Crash()
        if self.hand_back:
            return None
        if job.command.id in self.slow_once:
            self.slow_once.discard(job.command.id)
            return Outcome(FAILED, error="site slow", retryable=True)
        if job.command.action.startswith("frozen"):  # the browser stopped answering past the deadline
            if job.command.action == "frozen_mid_write":
                memo[RESUMABLE] = True  # what ActionContext.resumable() leaves before the first keystroke
            return Outcome(TIMED_OUT, error="deadline passed and the browser did not answer")
        return run_inline(job, deadline, memo)

    def send(self, body: bytes | dict[str, Any], **kw: Any) -> Any:
        return self.pipeline.handle(message(body, **kw))

    def status(self, task_id: str) -> str | None:
        record = self.store.get(task_id)
        return record["status"] if record else None

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def cmd(action: str = "echo", **fields: Any) -> dict[str, Any]:
    return {"id": f"t-{uuid.uuid4().hex[:10]}", "agent": "lincoln", "action": action, **fields}


@pytest.fixture
def rig(client: redis.Redis) -> Iterator[Rig]:
    namespace = "zp" + uuid.uuid4().hex[:8]
    yield Rig(client, namespace, max_attempts=3)
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)


# ---------------------------------------------------------------------------- the plain path
def test_a_command_is_stored_published_replied_and_acked_once(rig: Rig) -> None:
    body = cmd(params={"hello": "world"})
    decision = rig.send(body, reply_to="replies", correlation_id="c-1")
    assert isinstance(decision, Finish) and decision.status == "succeeded"
    record = rig.store.get(body["id"])
    assert record is not None and record["result"] == {"hello": "world"} and record["attempts"] == 1
    assert [e.status for e in rig.broker.events] == ["running", "succeeded"]
    assert [(to, cid, r.status) for to, cid, r in rig.broker.replies] == [("replies", "c-1", "succeeded")]
    assert len(rig.broker.acked) == 1 and rig.broker.dead == []
    assert rig.metric("zigral_commands_total", agent="lincoln", action="echo", outcome="succeeded") == 1


def test_a_finished_id_seen_again_is_republished_not_executed(rig: Rig) -> None:
    body = cmd()
    rig.send(body)
    decision = rig.send(body, reply_to="r")
    assert isinstance(decision, Republish) and rig.executed == [body["id"]]
    assert rig.broker.replies[-1][2].status == "succeeded"
    assert [h["status"] for h in rig.store.history(body["id"])] == ["running", "succeeded"]


# ---------------------------------------------------------------------------- item 1: ids and keys
@pytest.mark.parametrize("order", [("demo1", "demo1:history"), ("demo1:history", "demo1")])
def test_an_id_that_ends_like_another_tasks_key_is_a_task_of_its_own(
    rig: Rig, order: tuple[str, str]
) -> None:
    for task_id in order:
        decision = rig.send(cmd(id=task_id, params={"me": task_id}))
        assert isinstance(decision, Finish) and decision.status == "succeeded", decision
    for task_id in order:
        record = rig.store.get(task_id)
        assert record is not None and record["result"] == {"me": task_id}
        assert [h["status"] for h in rig.store.history(task_id)] == ["running", "succeeded"]
    assert {r["id"] for r in rig.store.recent()} == set(order)


def test_redis_refusing_a_tasks_keys_dead_letters_the_message_instead_of_wedging_the_agent(rig: Rig) -> None:
    rig.store.client.set(rig.names.task_key("clash"), "a string where a hash belongs")
    decision = rig.send(cmd(id="clash"))
    assert isinstance(decision, DeadLetter) and "Redis refused" in decision.reason
    assert rig.broker.dead[0].status == "failed" and len(rig.broker.acked) == 1
    assert isinstance(rig.send(cmd(id="after-clash")), Finish)


# ---------------------------------------------------------------------------- item 2: poison
POISON = [
    b'{"agent": "lincoln", "action": "echo", "params": {"s": "\\ud800"}}',
    b'{"agent": "lincoln", "action": "echo", "params": {"s": "\xed\xa0\x80"}}',
    ('{"agent": "lincoln", "action": "echo", "params": ' + '{"p": ' * 400 + "1" + "}" * 400 + "}").encode(),
    b"[" * 5000 + b"]" * 5000,
    json.dumps({"agent": "lincoln", "action": "echo"}).encode("utf-16"),
]


@pytest.mark.parametrize("body", POISON)
def test_a_poison_body_is_rejected_with_a_reason_and_the_agent_serves_on(rig: Rig, body: bytes) -> None:
    decision = rig.send(body, routing_key="lincoln.echo")
    assert isinstance(decision, Reject), decision
    assert rig.broker.dead[0].status == "rejected" and "malformed JSON" in rig.broker.dead[0].reason
    assert rig.status(decision.task_id) == "rejected"
    assert isinstance(rig.send(cmd()), Finish)


def test_a_body_without_an_id_that_kills_the_agent_is_dead_lettered_after_max_attempts_crashes(
    rig: Rig,
) -> None:
    body = json.dumps({"agent": "lincoln", "action": "echo", "params": {"crash": True}}).encode()
    with pytest.raises(Crash):
        rig.send(body, routing_key="lincoln.echo")
    for _ in range(2):
        with pytest.raises(Crash):
            rig.send(body, routing_key="lincoln.echo", redelivered=True)
    decision = rig.send(body, routing_key="lincoln.echo", redelivered=True)
    assert isinstance(decision, Finish) and decision.status == "failed" and decision.dead_letter
    assert "gave up after 3 attempts: the agent stopped 3 times" in (decision.error or "")
    assert len(set(rig.executed)) == 1  # every redelivery was the same task, not a new one each time
    assert rig.status(rig.executed[0]) == "failed"  # no record left at running
    assert rig.store.client.exists(rig.names.crash_key(fingerprint(body))) == 0


def test_a_body_whose_reading_kills_the_agent_is_dead_lettered_without_a_record(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b'{"agent": "lincoln", "action": "echo"}'
    for _ in range(2):
        rig.store.count_crash(fingerprint(body), 60)

    def crash(*_a: Any) -> Any:
        raise RuntimeError("the parser itself fell over")

    monkeypatch.setattr("zigral.runtime.pipeline.parse_body", crash)
    decision = rig.send(body, routing_key="lincoln.echo", redelivered=True)
    assert isinstance(decision, DeadLetter) and "stopped 3 times" in decision.reason
    assert rig.broker.dead[0].status == "failed" and len(rig.broker.acked) == 1


def test_a_body_that_kills_the_agent_even_while_being_read_is_dead_lettered_unread(rig: Rig) -> None:
    body = b'{"agent": "lincoln", "action": "echo"}'
    for _ in range(3):
        rig.store.count_crash(fingerprint(body), 60)
    decision = rig.send(body, routing_key="lincoln.echo", redelivered=True)
    assert isinstance(decision, DeadLetter) and "stopped 4 times" in decision.reason


def test_a_broker_drop_does_not_count_as_a_crash(rig: Rig) -> None:
    body = cmd()
    rig.broker.down = True
    with pytest.raises(Exception, match="in-memory broker is down"):
        rig.send(body)
    rig.broker.down = False
    for _ in range(3):
        rig.send(body, redelivered=True)
    assert rig.broker.dead == [] and rig.status(body["id"]) == "succeeded"


def test_a_redelivered_id_that_keeps_killing_the_agent_fails_after_max_attempts(rig: Rig) -> None:
    body = cmd()
    rig.crash_on.add(body["id"])
    with pytest.raises(Crash):
        rig.send(body)
    rig.store.forget_delivery(fingerprint(json.dumps(body).encode()))  # only the id's count is left
    for _ in range(2):
        with pytest.raises(Crash):
            rig.send(body, redelivered=False)
    decision = rig.send(body)
    assert isinstance(decision, Finish) and decision.status == "failed"
    assert "gave up after 3 attempts" in (decision.error or "")
    assert "the agent died while running it" in (decision.error or "")


# ------------------------------------------------------------------ item 4: a rejection burns nothing
def test_a_rejected_invalid_message_does_not_use_up_its_id(rig: Rig) -> None:
    decision = rig.send({"id": "fixme", "agent": "lincoln", "action": "echo", "timeout": "5"})
    assert isinstance(decision, Reject) and rig.status("fixme") == "rejected"
    again = rig.send(cmd(id="fixme", params={"ok": 1}), reply_to="r")
    assert isinstance(again, Finish) and again.status == "succeeded"
    record = rig.store.get("fixme")
    assert record is not None and record["result"] == {"ok": 1} and "error" not in record
    assert record["attempts"] == 1
    assert [h["status"] for h in rig.store.history("fixme")] == ["rejected", "running", "succeeded"]


def test_an_invalid_message_never_overwrites_a_real_commands_record(rig: Rig) -> None:
    rig.send(cmd(id="real", params={"n": 1}))
    decision = rig.send({"id": "real", "agent": "lincoln", "action": "echo", "capture": "yes"})
    assert isinstance(decision, Reject)
    record = rig.store.get("real")
    assert record is not None and record["status"] == "succeeded" and record["result"] == {"n": 1}
    assert rig.broker.dead[0].status == "rejected"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (cmd("fly"), "unknown action 'fly'"),
        (cmd("send", params={"sent": "yes"}), "invalid params for send"),
        (cmd("echo", agent="shaun"), "arrived on lincoln's queue"),
    ],
)
def test_an_unknown_action_bad_params_or_another_agent_are_rejected(
    rig: Rig, body: dict[str, Any], reason: str
) -> None:
    decision = rig.send(body)
    assert isinstance(decision, Reject) and reason in decision.reason
    assert rig.broker.dead[0].reason == decision.reason


def test_a_message_without_a_readable_id_is_recorded_under_its_message_id_or_its_fingerprint(
    rig: Rig,
) -> None:
    first = rig.send(b"{broken", routing_key="lincoln.echo", message_id="mine-1")
    second = rig.send(b"{broken too", routing_key="lincoln.echo", message_id="has spaces")
    assert isinstance(first, Reject) and first.task_id == "mine-1"
    assert isinstance(second, Reject) and second.task_id.startswith("invalid-")


# ---------------------------------------------------------------------------- item 5 and expiry
def test_a_command_that_expired_in_the_broker_gets_an_expired_record(rig: Rig) -> None:
    body = cmd()
    death = [{"reason": "expired", "queue": f"{rig.names.namespace}.lincoln", "count": 1}]
    expired_queue = rig.names.expired_queue("lincoln")
    decision = rig.send(body, routing_key=expired_queue, headers={"x-death": death}, reply_to="r")
    assert isinstance(decision, Finish) and decision.status == "expired"
    assert "expired in the broker" in (decision.error or "")
    assert rig.status(body["id"]) == "expired" and rig.executed == []
    assert rig.broker.replies[0][2].status == "expired"


def test_an_expired_routing_key_without_a_broker_expiry_is_rejected(rig: Rig) -> None:
    for key in (rig.names.expired_queue("lincoln"), "lincoln.expired"):
        decision = rig.send(cmd(), routing_key=key)
        assert isinstance(decision, Reject) and "routing key" in decision.reason


def test_a_command_older_than_its_max_age_expires_unexecuted(rig: Rig) -> None:
    decision = rig.send(cmd(created_at=time.time() - 100, max_age=10))
    assert isinstance(decision, Finish) and decision.status == "expired" and rig.executed == []


def test_a_command_from_the_far_future_is_rejected(rig: Rig) -> None:
    decision = rig.send(cmd(created_at=time.time() + 10 * 86400))
    assert isinstance(decision, Reject) and "in the future" in decision.reason


# ---------------------------------------------------------------------------- item 6: strict envelope
@pytest.mark.parametrize(
    "fields",
    [
        {"timeout": "5"},
        {"timeout": True},
        {"capture": 1},
        {"created_at": "now"},
        {"version": True},
        {"priority": 2},
    ],
)
def test_a_field_of_the_wrong_type_is_rejected(rig: Rig, fields: dict[str, Any]) -> None:
    decision = rig.send(cmd(**fields))
    assert isinstance(decision, Reject) and "invalid command" in decision.reason


@pytest.mark.parametrize(
    "body",
    [
        b'{"agent": "lincoln", "action": "echo", "created_at": NaN}',
        b'{"agent": "lincoln", "action": "echo", "timeout": Infinity}',
        b'{"agent": "lincoln", "action": "echo", "timeout": 1e999}',
        b'{"agent": "lincoln", "action": "echo", "action": "navigate"}',
    ],
)
def test_nan_infinity_and_duplicate_keys_are_rejected(rig: Rig, body: bytes) -> None:
    decision = rig.send(body, routing_key="lincoln.echo")
    assert isinstance(decision, Reject) and "malformed JSON" in decision.reason


def test_a_routing_key_that_disagrees_with_the_body_is_rejected(rig: Rig) -> None:
    decision = rig.send(cmd("echo"), routing_key="lincoln.navigate")
    assert isinstance(decision, Reject)
    assert "routing key 'lincoln.navigate' does not match the command's lincoln.echo" in decision.reason


def test_a_retried_command_comes_back_on_the_retry_routing_key(rig: Rig) -> None:
    back = back_from(rig.names.retry_queue("lincoln"))
    assert isinstance(rig.send(cmd(), routing_key="lincoln.retry", headers=back), Finish)


# ---------------------------------------------------------------------------- failures and retries
def test_a_retryable_failure_is_retried_with_backoff_then_failed_and_dead_lettered(rig: Rig) -> None:
    body = cmd("flaky")
    first = rig.send(body)
    assert isinstance(first, Retry) and first.note is not None and "attempt 1 failed" in first.note
    assert isinstance(rig.send(body), Retry)
    last = rig.send(body)
    assert isinstance(last, Finish) and last.status == "failed" and last.dead_letter
    assert [h["status"] for h in rig.store.history(body["id"])] == [
        "running",
        "queued",
        "running",
        "queued",
        "running",
        "failed",
    ]
    assert len(rig.broker.retried) == 2 and rig.broker.dead[0].status == "failed"
    assert rig.metric("zigral_retries_total", agent="lincoln") == 2


def test_a_success_after_a_retry_is_sent_again_without_the_retrys_note(rig: Rig) -> None:
    body = cmd(params={"x": 1})
    rig.slow_once.add(body["id"])
    assert isinstance(rig.send(body), Retry)
    assert isinstance(rig.send(body), Finish)
    assert rig.broker.events[-1].status == "succeeded" and rig.broker.events[-1].error is None
    assert isinstance(rig.send(body, reply_to="r"), Republish)
    again = rig.broker.replies[-1][2]
    assert (again.status, again.error, again.result) == ("succeeded", None, {"x": 1})
    assert "site slow" in (rig.store.get(body["id"]) or {}).get("error", "")  # the record keeps the last note


def test_an_action_rejection_and_a_bug_in_an_action_are_final_and_dead_lettered(rig: Rig) -> None:
    refused = rig.send(cmd("refuse"))
    bug = rig.send(cmd("boom"))
    assert isinstance(refused, Finish) and refused.status == "rejected" and refused.dead_letter
    assert (
        isinstance(bug, Finish)
        and bug.status == "failed"
        and "internal error: ValueError" in (bug.error or "")
    )


def test_a_locator_miss_is_a_failure_the_hooks_see(rig: Rig) -> None:
    decision = rig.send(cmd("missing"))
    assert isinstance(decision, Finish) and decision.status == "failed"
    assert "profile_name" in (decision.error or "")


def test_a_command_handed_back_at_shutdown_is_requeued_without_a_result(rig: Rig) -> None:
    rig.hand_back = True
    body = cmd()
    assert isinstance(rig.send(body), Requeue)
    assert len(rig.broker.requeued) == 1 and rig.status(body["id"]) == "running"
    rig.hand_back = False
    assert isinstance(rig.send(body, redelivered=True), Finish)
    assert rig.status(body["id"]) == "succeeded"


# ---------------------------------------------------------------------------- locks
def test_a_task_held_by_a_live_worker_is_looked_at_again_later(rig: Rig) -> None:
    other = rig.names.heartbeat_key("lincoln", "vm-other", 2)
    rig.store.client.set(other, "{}", ex=30)
    body = cmd()
    rig.store.acquire(body["id"], other, ttl=30)
    decision = rig.send(body)
    assert isinstance(decision, Retry) and decision.note is None and rig.executed == []
    assert rig.store.get(body["id"]) is None


def test_a_task_held_by_a_dead_worker_is_taken_over(rig: Rig) -> None:
    body = cmd()
    rig.store.acquire(body["id"], rig.names.heartbeat_key("lincoln", "vm-gone", 3), ttl=30)
    assert isinstance(rig.send(body), Finish) and rig.executed == [body["id"]]


# ---------------------------------------------------------------------------- quotas
def test_a_full_quota_defers_the_command_and_an_unused_take_is_given_back(rig: Rig) -> None:
    nothing = rig.send(cmd("send", params={"sent": False}))
    assert isinstance(nothing, Finish) and rig.quotas.used("messages") == (0, 0)
    assert isinstance(rig.send(cmd("send")), Finish) and rig.quotas.used("messages") == (1, 1)
    body = cmd("send", max_age=30 * 86400)
    decision = rig.send(body)
    assert type(decision).__name__ == "Defer" and rig.status(body["id"]) == "deferred"
    assert rig.broker.retried[-1][3] is True  # through the deferred queue


def test_a_quota_that_reopens_after_the_max_age_rejects_the_command(rig: Rig) -> None:
    rig.send(cmd("send"))
    decision = rig.send(cmd("send", max_age=1))
    assert (
        isinstance(decision, Finish)
        and decision.status == "rejected"
        and "after the command's max age" in (decision.error or "")
    )


# ---------------------------------------------------------------------------- Redis outages and reports
def test_a_redis_outage_is_waited_out_then_the_command_runs(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zigral.runtime import pipeline

    calls = {"n": 0}
    real = pipeline.claim

    def flaky(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] < 3:
            raise StateUnavailable("Redis: ConnectionError: refused")
        return real(*args)

    rig.pipeline.redis.giving_up = lambda: False
    monkeypatch.setattr(pipeline, "claim", flaky)
    assert isinstance(rig.send(cmd()), Finish) and calls["n"] == 3


def test_a_status_reported_mid_way_is_stored_and_needs_human_goes_to_the_reply_queue(rig: Rig) -> None:
    job = Job(message(cmd(), reply_to="r"), "fp")
    rig.pipeline.decode(job)
    rig.pipeline.report(job, "needs_human", "a checkpoint asks for a person")
    rig.pipeline.report(job, "running", None)
    assert [e.status for e in rig.broker.events] == ["needs_human", "running"]
    assert [r.status for _, _, r in rig.broker.replies] == ["needs_human"]


def test_a_bug_in_a_step_dead_letters_the_message_and_the_agent_serves_on(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(job: Job) -> None:
        raise KeyError("oops")

    rig.pipeline.steps[3] = broken
    decision = rig.send(cmd())
    assert isinstance(decision, DeadLetter) and "internal error in broken" in decision.reason


def test_one_claim_counts_records_running_and_hands_over_the_memo_and_the_final_write_frees_the_lock(
    rig: Rig,
) -> None:
    body = cmd()
    rig.store.remember(body["id"], "appended_at", 42)
    seen: list[dict[str, Any]] = []
    executor = rig.pipeline.executor

    def spy(job: Job, deadline: Deadline, memo: dict[str, Any]) -> Outcome | None:
        seen.append(memo)
        return executor(job, deadline, memo)

    rig.pipeline.executor = spy
    assert isinstance(rig.send(body), Finish)
    assert seen == [{"appended_at": 42}]
    assert rig.store.client.exists(rig.names.lock_key(body["id"])) == 0
    events = [(e.status, e.attempt) for _, e in rig.store.events() if e.id == body["id"]]
    assert events == [("running", 1), ("succeeded", 1)]


def test_a_broker_drop_while_the_running_event_goes_out_costs_the_command_no_attempt(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zigral.errors import BrokerError

    published = rig.broker.event
    drops = iter([True])

    def flaky(event: Any) -> None:
        if event.status == "running" and next(drops, False):
            raise BrokerError("publish to 'task.lincoln.running': StreamLostError")
        published(event)

    monkeypatch.setattr(rig.broker, "event", flaky)
    body = cmd()
    decision = rig.send(body)
    assert isinstance(decision, Finish) and decision.status == "succeeded"
    record = rig.store.get(body["id"])
    assert record is not None and record["attempts"] == 1 and len(rig.broker.acked) == 1


def test_a_timeout_is_final_unless_the_action_marked_its_work_resumable(rig: Rig) -> None:
    plain = rig.send(cmd("frozen"))
    assert isinstance(plain, Finish) and plain.status == TIMED_OUT
    mid_write = cmd("frozen_mid_write")
    first = rig.send(mid_write)
    assert isinstance(first, Retry), first  # a frozen browser mid-write: the retry repairs the same cells
    assert first.note is not None and "browser did not answer" in first.note
    rig.send(mid_write)
    last = rig.send(mid_write)
    assert isinstance(last, Finish) and last.status == FAILED and last.dead_letter
    assert last.error is not None and last.error.startswith("gave up after 3 attempts")
