"""What docs/PROTOCOL.md promises a client in another language, pinned: statuses, the reply to an invalid
message, ids across agents, the routing key rule, dead-letter properties and captures."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import redis
from prometheus_client import CollectorRegistry

from tests.test_pipeline import Probe, Rig, cmd
from zigral.actions import Action, NoParams
from zigral.broker import Publisher
from zigral.captures import CaptureStore
from zigral.config import Settings
from zigral.constants import Names
from zigral.deadline import Deadline
from zigral.errors import OverQuota, Rejected, Retryable
from zigral.messages import Command, fingerprint
from zigral.metrics import AgentMetrics
from zigral.runtime.browsing import BrowserRunner
from zigral.runtime.decisions import Finish, Job, Reject, Republish
from zigral.runtime.execute import run_inline
from zigral.runtime.memory import MemoryTransport, back_from, message
from zigral.runtime.pipeline import Pipeline


@pytest.fixture
def rig(client: redis.Redis) -> Iterator[Rig]:
    namespace = "zq" + uuid.uuid4().hex[:8]
    yield Rig(client, namespace, max_attempts=3)
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)


def events(rig: Rig, task_id: str) -> list[str]:
    return [e.status for e in rig.broker.events if e.id == task_id]


# ---------------------------------------------------------------------------- statuses
def test_a_fresh_commands_first_event_is_running_and_queued_comes_only_with_a_retry(rig: Rig) -> None:
    plain, quota, flaky = cmd(), cmd("send"), cmd("flaky")
    for body in (plain, quota, flaky):
        rig.send(body)
    assert events(rig, plain["id"]) == ["running", "succeeded"]
    assert events(rig, quota["id"]) == ["running", "succeeded"]  # an action with a quota too
    assert events(rig, flaky["id"]) == ["running", "queued"]
    deferred = cmd("send", max_age=30 * 86400)  # the quota of one a day is used up now
    rig.send(deferred)
    assert events(rig, deferred["id"]) == ["deferred"]


# ---------------------------------------------------------------------------- invalid messages
def test_an_unparseable_body_is_answered_rejected_as_invalid_under_the_clients_correlation_id(
    rig: Rig,
) -> None:
    body = b'{"agent": "lincoln", "action": '
    decision = rig.send(body, routing_key="lincoln.echo", reply_to="r", correlation_id="mine-7")
    task_id = "invalid-" + fingerprint(body)[:16]
    assert isinstance(decision, Reject) and decision.task_id == task_id
    [(reply_to, correlation_id, reply)] = rig.broker.replies
    assert (reply_to, correlation_id) == ("r", "mine-7")
    assert (reply.id, reply.action, reply.status, reply.attempt) == (task_id, "invalid", "rejected", 0)
    assert "malformed JSON" in (reply.error or "")
    assert [(e.id, e.agent, e.status) for e in rig.broker.events] == [(task_id, "lincoln", "rejected")]
    assert rig.broker.dead[0].status == "rejected"


def test_any_invalid_message_is_reported_as_action_invalid_and_without_a_correlation_id_under_its_id(
    rig: Rig,
) -> None:
    rig.send(cmd("echo", id="bad-params", timeout="5"), reply_to="r")
    [(_to, correlation_id, reply)] = rig.broker.replies
    assert (correlation_id, reply.id, reply.action, reply.status) == (
        "bad-params",
        "bad-params",
        "invalid",
        "rejected",
    )


# ---------------------------------------------------------------------------- ids
class Shaun(Probe):
    name = "shaun"


def test_ids_are_global_across_agents_an_id_another_agent_finished_is_not_run_again(rig: Rig) -> None:
    rig.send(cmd(id="shared-1", params={"by": "lincoln"}))
    shaun = Pipeline(
        rig.rt,
        Shaun(Settings(runtime=rig.rt)),
        rig.store,
        broker := MemoryTransport(),
        vm_id="vm-t",
        owner=rig.names.heartbeat_key("shaun", "vm-t", 1),
        executor=run_inline,
    )
    decision = shaun.handle(message(cmd(id="shared-1", agent="shaun", params={"by": "shaun"}), reply_to="r"))
    assert isinstance(decision, Republish)
    reply = broker.replies[0][2]
    assert (reply.agent, reply.status, reply.result) == ("lincoln", "succeeded", {"by": "lincoln"})


# ---------------------------------------------------------------------------- the routing key
@pytest.mark.parametrize(
    ("fields", "routing_key"),
    [
        ({}, "lincoln.echo"),
        ({"account": "a@x.com"}, "acct.lincoln.a@x.com.echo"),
        ({"vm_id": "vm-t"}, "vm.lincoln.vm-t.echo"),
        ({"vm_id": "vm-t", "account": "a"}, "vm.lincoln.vm-t.echo"),
    ],
)
def test_a_routing_key_of_the_bodys_agent_action_and_address_is_accepted(
    rig: Rig, fields: dict[str, Any], routing_key: str
) -> None:
    decision = rig.send(cmd(**fields), routing_key=routing_key)
    assert isinstance(decision, Finish) and decision.status == "succeeded"


@pytest.mark.parametrize(
    ("fields", "routing_key", "waiting"),
    [
        ({}, "lincoln.retry", "retry"),  # how a retried command comes back
        ({}, "lincoln.retry", "deferred"),  # and a deferred one
        ({"account": "a@x.com"}, "acct.lincoln.a@x.com.retry", "acct-retry.a@x.com"),
    ],
)
def test_the_retry_key_is_accepted_only_from_the_agents_own_waiting_queues(
    rig: Rig, fields: dict[str, Any], routing_key: str, waiting: str
) -> None:
    queue = f"{rig.names.agent_queue('lincoln')}.{waiting}"
    decision = rig.send(cmd(**fields), routing_key=routing_key, headers=back_from(queue))
    assert isinstance(decision, Finish) and decision.status == "succeeded"
    others = (rig.names.retry_queue("shaun"), rig.names.agent_queue("lincoln"))
    for headers in (None, *(back_from(other) for other in others)):
        forged = rig.send(cmd(**fields), routing_key=routing_key, headers=headers)  # a client's retry key
        assert isinstance(forged, Reject) and "does not match" in forged.reason, headers


@pytest.mark.parametrize(
    ("fields", "routing_key"),
    [
        ({}, "lincoln.navigate"),  # another action
        ({}, "shaun.echo"),  # another agent
        ({}, "lincoln.echo.now"),  # more words
        ({}, "zigral.lincoln"),  # straight to the queue through the default exchange
        ({}, "acct.lincoln.a.echo"),  # an address the body does not have
        ({"account": "a"}, "lincoln.echo"),  # an address the key does not have
        ({"account": "a"}, "acct.lincoln.b.echo"),  # another account
        ({"vm_id": "vm-t", "account": "a"}, "acct.lincoln.a.echo"),  # a VM address is routed by the VM
    ],
)
def test_a_routing_key_that_differs_from_the_body_is_rejected(
    rig: Rig, fields: dict[str, Any], routing_key: str
) -> None:
    decision = rig.send(cmd(**fields), routing_key=routing_key)
    assert isinstance(decision, Reject)
    assert f"routing key {routing_key!r} does not match the command's lincoln.echo" in decision.reason
    assert rig.executed == []


# ---------------------------------------------------------------------------- dead letters
class Channel:
    """A channel that records what is published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, bytes, pika.BasicProperties]] = []

    def confirm_delivery(self) -> None:
        pass

    def basic_publish(
        self, exchange: str, routing_key: str, body: bytes, props: pika.BasicProperties, mandatory: bool
    ) -> None:
        self.published.append((exchange, routing_key, body, props))


def test_a_dead_letter_keeps_the_ids_reply_queue_priority_content_type_and_headers_x_death_included() -> None:
    channel = Channel()
    death = [{"reason": "expired", "queue": "zigral.lincoln.retry", "count": 2}]
    props = pika.BasicProperties(
        content_type="application/json",
        priority=2,
        message_id="m-1",
        correlation_id="c-1",
        reply_to="replies",
        timestamp=1795398330,
        expiration="60000",
        type="order",
        app_id="crm",
        headers={"x-death": death, "tenant": "t1"},
    )
    Publisher(channel, Names()).dead_letter("lincoln", b"{}", props, "failed", "gave up")  # type: ignore[arg-type]
    [(exchange, routing_key, body, kept)] = channel.published
    assert (exchange, routing_key, body) == ("zigral.dlx", "lincoln", b"{}")
    assert (kept.content_type, kept.priority, kept.delivery_mode) == ("application/json", 2, 2)
    assert (kept.message_id, kept.correlation_id, kept.reply_to) == ("m-1", "c-1", "replies")
    assert (kept.timestamp, kept.expiration, kept.type, kept.app_id) == (None, None, None, None)
    assert kept.headers == {
        "x-death": death,
        "tenant": "t1",
        "x-zigral-reason": "gave up",
        "x-zigral-status": "failed",
        "x-zigral-agent": "lincoln",
    }


# ---------------------------------------------------------------------------- captures
def test_capture_on_an_action_without_a_browser_is_accepted_and_saves_nothing(rig: Rig) -> None:
    decision = rig.send(cmd("echo", capture=True))
    assert isinstance(decision, Finish) and decision.status == "succeeded" and decision.captures == ()


class Page:
    def screenshot(self, **kw: Any) -> bytes:
        return b"png"

    def content(self) -> str:
        return '<input type="password" value="secret">'


class Browser:
    """Runs the work on a fake tab; ``failure_capture`` saves the failure capture on it."""

    def run(self, deadline: Deadline, work: Any, navigates: bool = False) -> Any:
        return work(Page())

    def capture_on_failure(self, save: Any) -> list[str]:
        return list(save(Page()))


def _refused(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise Rejected("URL refused")


def _gone(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise Retryable("navigation error")


def _bug(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise KeyError("oops")


def _ok(ctx: Any, p: NoParams) -> dict[str, Any]:
    return {}


def _waits(ctx: Any, p: NoParams) -> dict[str, Any]:
    raise OverQuota("messages", "day", time.time() + 3600)


@pytest.mark.parametrize(
    ("fn", "capture", "status", "steps"),
    [
        (_ok, False, "succeeded", []),
        (_ok, True, "succeeded", ["result"]),
        (_gone, False, "failed", ["failure"]),  # retryable: the pipeline retries it
        (_gone, True, "failed", ["failure"]),  # no "result" capture of a failed action
        (_refused, False, "rejected", []),
        (_bug, False, "failed", ["failure"]),  # a bug in the action: what the tab showed helps most
        (_waits, False, "deferred", []),  # over quota: nothing went wrong
    ],
)
def test_a_browser_action_captures_its_result_on_request_and_a_failure_by_itself(
    tmp_path: Path, fn: Any, capture: bool, status: str, steps: list[str]
) -> None:
    runner = BrowserRunner(
        Browser(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        CaptureStore(tmp_path, "lincoln"),
        AgentMetrics("lincoln", CollectorRegistry()),
        None,  # type: ignore[arg-type]
        type("Quotas", (), {"taker": lambda self, task_id: None})(),
    )
    command = Command(id="cap-1", agent="lincoln", action="act", capture=capture)
    job = Job(message(command.model_dump()), "fp", command=command)
    job.action, job.params = Action("act", NoParams, fn), NoParams()
    outcome = runner.run(job, Deadline(30), {})
    assert outcome.status == status
    # captures/{screenshots,html}/<agent>/<day>/<id>-<step>.{png,html}
    names = [(p.split("/")[0], p.split("/")[1], p.split("/")[-1]) for p in outcome.captures]
    assert names == [
        pair
        for s in steps
        for pair in (("screenshots", "lincoln", f"cap-1-{s}.png"), ("html", "lincoln", f"cap-1-{s}.html"))
    ]
    for path in outcome.captures:
        if path.endswith(".html"):
            assert "secret" not in (tmp_path / path).read_text()
