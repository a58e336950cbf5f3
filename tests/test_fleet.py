"""Addressed commands (protocol 2) and the fleet view: routes, the command path's checks against an
in-memory broker, the queues on the real RabbitMQ, the register in the real Redis (own namespaces)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest
import redis

from zigral import broker, fleet
from zigral.actions import Action, NoParams
from zigral.agents.base import Agent
from zigral.config import QuotaLimit, RuntimeSettings, Settings, load_settings
from zigral.constants import Names, command_route, parse_route
from zigral.errors import Rejected
from zigral.messages import Command
from zigral.ops.queues import QueueStats
from zigral.quotas import QuotaGate
from zigral.runtime.decisions import Defer, Finish, Reject
from zigral.runtime.memory import MemoryTransport, back_from, message
from zigral.runtime.pipeline import Pipeline
from zigral.runtime.settle import Redis
from zigral.state import TaskStore


# ---------------------------------------------------------------------------- routes and the envelope
@pytest.mark.parametrize(
    ("account", "vm_id", "key"),
    [
        (None, None, "lincoln.send_connection"),
        ("alice", None, "acct.lincoln.alice.send_connection"),
        ("alice@example.com", None, "acct.lincoln.alice@example.com.send_connection"),
        (None, "vm-3.eu", "vm.lincoln.vm-3.eu.send_connection"),
        ("alice", "vm-3", "vm.lincoln.vm-3.send_connection"),  # the VM address wins
    ],
)
def test_a_routing_key_names_the_agent_the_address_and_the_action_and_reads_back(
    account: str | None, vm_id: str | None, key: str
) -> None:
    assert command_route("lincoln", "send_connection", account, vm_id) == key
    route = parse_route(key)
    assert (route.agent, route.verb, route.vm_id) == ("lincoln", "send_connection", vm_id)
    assert route.account == (None if vm_id else account)


def test_an_addressed_routing_key_never_starts_with_the_agent_so_the_shared_queue_never_takes_it() -> None:
    for key in (command_route("lincoln", "echo", "lincoln"), command_route("lincoln", "echo", None, "x")):
        assert not key.startswith("lincoln.")


def test_a_command_with_an_account_is_version_2_and_a_version_1_command_is_written_as_before() -> None:
    addressed = Command(agent="lincoln", action="echo", account="alice")
    assert addressed.version == 2 and json.loads(addressed.encode())["account"] == "alice"
    plain = json.loads(Command(agent="lincoln", action="echo").encode())
    assert plain["version"] == 1 and "account" not in plain and "vm_id" not in plain


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"account": "alice", "version": 1}, "version 2"),
        ({"vm_id": "vm-1", "version": 1}, "version 2"),
        ({"account": "a*b"}, "account"),
        ({"account": "alice bob"}, "account"),
        ({"vm_id": ""}, "vm_id"),
        ({"account": 7}, "account"),
    ],
)
def test_a_bad_address_is_rejected_with_a_reason_naming_it(fields: dict[str, Any], named: str) -> None:
    body = json.dumps({"agent": "lincoln", "action": "echo", **fields}).encode()
    with pytest.raises(Rejected, match=named):
        Command.decode(body, 10_000)


def test_zigral_submit_addresses_a_command_to_an_account_or_a_vm() -> None:
    from zigral.cli import build_parser, command_from

    args = build_parser().parse_args(["submit", "lincoln", "echo", "--account", "alice@example.com"])
    command = command_from(args)
    assert (command.account, command.vm_id, command.version) == ("alice@example.com", None, 2)
    assert command.routing_key == "acct.lincoln.alice@example.com.echo"
    args = build_parser().parse_args(["submit", "shaun", "echo", "--vm", "vm-3"])
    assert command_from(args).routing_key == "vm.shaun.vm-3.echo"


def test_a_bad_account_setting_is_refused_naming_its_variable() -> None:
    from zigral.errors import ConfigError

    with pytest.raises(ConfigError, match="ZIGRAL_AGENTS__SHAUN__ACCOUNT"):
        load_settings(shaun={"account": "two words"})


# ---------------------------------------------------------------------------- the command path's checks
class Served(Agent):
    name = "lincoln"

    @property
    def quota_account(self) -> str:
        return "alice"


@pytest.fixture
def names(client: redis.Redis) -> Iterator[Names]:
    namespace = "zf" + uuid.uuid4().hex[:8]
    yield Names(namespace)
    keys = list(client.scan_iter(match=f"{namespace}:*"))
    if keys:
        client.delete(*keys)


def pipeline(client: redis.Redis, names: Names) -> tuple[Pipeline, MemoryTransport, TaskStore]:
    rt = RuntimeSettings(namespace=names.namespace)
    store = TaskStore(client, names, retention=300, events_maxlen=1000)
    transport = MemoryTransport()
    path = Pipeline(
        rt,
        Served(Settings(runtime=rt)),
        store,
        transport,
        vm_id="vm-a",
        owner=names.heartbeat_key("lincoln", "vm-a", 1),
        account="alice",
        redis=Redis(pause=lambda s: None, giving_up=lambda: True),
    )
    return path, transport, store


def body(**fields: Any) -> dict[str, Any]:
    return {"id": f"f-{uuid.uuid4().hex[:10]}", "agent": "lincoln", "action": "echo", **fields}


def test_a_command_for_the_account_a_vm_serves_runs_there_and_its_record_names_the_vm(
    client: redis.Redis, names: Names
) -> None:
    path, _transport, store = pipeline(client, names)
    command = body(account="alice", params={"n": 1})
    decision = path.handle(message(command, routing_key="acct.lincoln.alice.echo"))
    assert isinstance(decision, Finish) and decision.status == "succeeded"
    record = store.get(command["id"])
    assert record is not None and record["vm_id"] == "vm-a" and record["result"] == {"n": 1}


@pytest.mark.parametrize(
    ("fields", "routing_key", "why"),
    [
        ({"account": "bob"}, "acct.lincoln.bob.echo", "serves account 'alice'"),
        ({"vm_id": "vm-b"}, "vm.lincoln.vm-b.echo", "arrived on VM 'vm-a'"),
        ({"account": "alice"}, "lincoln.echo", "does not match"),  # an account's command on the shared queue
        ({}, "acct.lincoln.alice.echo", "does not match"),  # a version 1 body on an account's route
        ({"account": "bob"}, "acct.lincoln.alice.echo", "does not match"),
    ],
)
def test_a_command_that_is_not_for_this_vm_is_rejected_not_run(
    client: redis.Redis, names: Names, fields: dict[str, Any], routing_key: str, why: str
) -> None:
    path, transport, store = pipeline(client, names)
    command = body(**fields)
    decision = path.handle(message(command, routing_key=routing_key))
    assert isinstance(decision, Reject) and why in decision.reason
    assert [letter.status for letter in transport.dead] == ["rejected"]
    record = store.get(command["id"])
    assert record is not None and record["status"] == "rejected"


def test_a_command_addressed_to_this_vm_and_its_account_runs(client: redis.Redis, names: Names) -> None:
    path, _transport, _store = pipeline(client, names)
    command = body(account="alice", vm_id="vm-a")
    decision = path.handle(message(command, routing_key="vm.lincoln.vm-a.echo"))
    assert isinstance(decision, Finish) and decision.status == "succeeded"


def test_a_retried_addressed_command_is_read_back_on_its_retry_route(
    client: redis.Redis, names: Names
) -> None:
    path, _transport, _store = pipeline(client, names)
    back = back_from(names.account_queue("lincoln", "alice", "retry"))
    decision = path.handle(
        message(body(account="alice"), routing_key="acct.lincoln.alice.retry", headers=back)
    )
    assert isinstance(decision, Finish) and decision.status == "succeeded"


def test_a_command_that_expired_in_an_account_queue_is_recorded_expired(
    client: redis.Redis, names: Names
) -> None:
    path, _transport, store = pipeline(client, names)
    command = body(account="alice")
    death = [{"reason": "expired", "queue": names.account_queue("lincoln", "alice")}]
    decision = path.handle(
        message(command, routing_key=names.expired_queue("lincoln"), headers={"x-death": death})
    )
    assert isinstance(decision, Finish) and decision.status == "expired"
    assert (store.get(command["id"]) or {}).get("status") == "expired"


class SharedAccount(Agent):
    """An agent of two VMs signed in to one account, with a quota of 2 sends a day."""

    name = "lincoln"

    def site_actions(self) -> list[Action[Any]]:
        return [Action("send", NoParams, lambda ctx, p: {"sent": True}, browser=False, quota="connect")]

    @property
    def quota_account(self) -> str:
        return "shared"

    @property
    def quota_limits(self) -> dict[str, QuotaLimit]:
        return {"connect": QuotaLimit(day=2)}


def test_the_quota_of_an_account_two_vms_serve_adds_up_across_them(client: redis.Redis, names: Names) -> None:
    rt = RuntimeSettings(namespace=names.namespace)
    agent = SharedAccount(Settings(runtime=rt))
    store = TaskStore(client, names, retention=300, events_maxlen=1000)
    paths = {
        vm: Pipeline(
            rt,
            agent,
            store,
            MemoryTransport(),
            vm_id=vm,
            owner=names.heartbeat_key("lincoln", vm, 1),
            account="shared",
            quotas=QuotaGate(client, names, "shared", agent.quota_limits),
            redis=Redis(pause=lambda s: None, giving_up=lambda: True),
        )
        for vm in ("vm-a", "vm-b")
    }
    route = "acct.lincoln.shared.send"
    first = paths["vm-a"].handle(message(body(action="send", account="shared"), routing_key=route))
    second = paths["vm-b"].handle(message(body(action="send", account="shared"), routing_key=route))
    waits = body(action="send", account="shared", max_age=2 * 86400)  # may wait for tomorrow's window
    third = paths["vm-a"].handle(message(waits, routing_key=route))
    assert (
        isinstance(first, Finish)
        and isinstance(second, Finish)
        and first.status == second.status == "succeeded"
    )
    assert isinstance(third, Defer) and "'shared'" in third.note


# ---------------------------------------------------------------------------- the queues on the real RabbitMQ
@pytest.fixture
def channel() -> Iterator[tuple[pika.adapters.blocking_connection.BlockingChannel, Names]]:
    settings = load_settings()
    try:
        conn = broker.connect(settings)
    except Exception as exc:  # any failure means: not available
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is required in CI ({exc})")
        pytest.skip(f"no RabbitMQ ({exc})")
    names = Names("zf" + uuid.uuid4().hex[:8])
    ch = conn.channel()
    broker.declare_topology(ch, names, ("lincoln",))
    yield ch, names
    for queue in (
        names.agent_queue("lincoln"),
        names.retry_queue("lincoln"),
        names.deferred_queue("lincoln"),
        names.expired_queue("lincoln"),
        names.dead_letter_queue,
        *(
            names.account_queue("lincoln", a, w)
            for a in ("alice", "nobody")
            for w in ("", "retry", "deferred")
        ),
    ):
        ch.queue_delete(queue)
    for exchange in (names.commands_exchange, names.events_exchange, names.dead_letter_exchange):
        ch.exchange_delete(exchange)
    conn.close()


def count(ch: Any, queue: str) -> int:
    return int(ch.queue_declare(queue, passive=True).method.message_count)


def test_a_command_for_an_account_no_vm_serves_waits_in_its_own_queue_not_the_shared_one(
    channel: tuple[Any, Names],
) -> None:
    ch, names = channel
    publisher = broker.Publisher(ch, names)
    publisher.command(Command(agent="lincoln", action="echo", account="nobody"))
    publisher.command(Command(agent="lincoln", action="echo", account="nobody"))
    assert count(ch, names.account_queue("lincoln", "nobody")) == 2
    assert count(ch, names.agent_queue("lincoln")) == 0


def test_a_retry_of_an_account_command_comes_back_to_the_account_queue(channel: tuple[Any, Names]) -> None:
    ch, names = channel
    broker.declare_addressed(ch, names, "lincoln", account="alice", serving=True)
    publisher = broker.Publisher(ch, names)
    command = Command(agent="lincoln", action="echo", account="alice")
    props = pika.BasicProperties(message_id=command.id, priority=1)
    publisher.retry("lincoln", command.encode(), props, 0.05, routing_key="acct.lincoln.alice.echo")
    deadline = time.monotonic() + 10
    while count(ch, names.account_queue("lincoln", "alice")) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    method, _props, got = ch.basic_get(names.account_queue("lincoln", "alice"), auto_ack=True)
    assert method is not None and method.routing_key == "acct.lincoln.alice.retry"
    assert Command.decode(got, 10_000).id == command.id
    assert count(ch, names.agent_queue("lincoln")) == 0


def test_a_replayed_dead_letter_of_an_account_command_goes_back_to_the_account_queue(
    channel: tuple[Any, Names],
) -> None:
    ch, names = channel
    publisher = broker.Publisher(ch, names)
    command = Command(agent="lincoln", action="echo", account="nobody")
    props = pika.BasicProperties(message_id=command.id, priority=1)
    publisher.dead_letter("lincoln", command.encode(), props, "failed", "gave up")
    reset: list[str] = []
    assert broker.replay_dead_letter(ch, names, command.id, reset.append)
    assert reset == [command.id]
    assert count(ch, names.account_queue("lincoln", "nobody")) == 1
    assert count(ch, names.agent_queue("lincoln")) == 0 and count(ch, names.dead_letter_queue) == 0


# ---------------------------------------------------------------------------- the fleet view
def beat(vm: str, agent: str, at: float, **info: Any) -> dict[str, Any]:
    return {"vm_id": vm, "agent": agent, "at": at, "key": f"hb:{agent}:{vm}", "ttl": 6, **info}


def test_the_fleet_shows_each_vm_with_its_accounts_state_queued_commands_and_live_view() -> None:
    names, now = Names("zf"), 1000.0
    beats = [
        beat("vm-a", "lincoln", now - 1, account="alice", task="t-1", url="http://a.example:8080/"),
        beat("vm-a", "shaun", now - 2, account="g1"),
        beat("vm-b", "lincoln", now - 1, account="bob", paused="needs_human"),
        beat("vm-c", "lincoln", now - 30, account="carol"),
        beat("vm-d", "lincoln", now - 1, account="dave", paused="recycle"),
    ]
    live = {b["key"] for b in beats if b["vm_id"] != "vm-c"}
    stats = [
        QueueStats("zf.lincoln.acct.carol", 4, 0, 0),
        QueueStats("zf.lincoln.acct.alice", 1, 0, 1),
        QueueStats("zf.lincoln.acct-retry.alice", 9, 0, 0),  # a waiting queue: not an address
        QueueStats("zf.lincoln.acct.erin", 2, 0, 0),  # an account no VM ever served
    ]
    vms, queue_rows = fleet.build(beats, live, stats, names, now)
    by_vm = {vm.vm_id: vm for vm in vms}
    assert [(v, by_vm[v].state) for v in sorted(by_vm)] == [
        ("vm-a", "running"),
        ("vm-b", "needs_human"),
        ("vm-c", "gone"),
        ("vm-d", "recycling"),
    ]
    a = by_vm["vm-a"]
    assert a.task == "t-1" and a.seen_seconds_ago == 1.0
    assert a.url == "http://a.example:8080/" + fleet.LIVE_VIEW
    assert a.queues == {"lincoln alice": 1, "lincoln vm": None, "shaun g1": None, "shaun vm": None}
    assert by_vm["vm-c"].queues["lincoln carol"] == 4 and by_vm["vm-c"].seen_seconds_ago == 30.0
    unserved = sorted(q.address for q in queue_rows if q.unserved)
    assert unserved == ["carol", "erin"]


def test_a_vm_with_one_live_agent_is_not_gone_but_its_dead_agent_is() -> None:
    beats = [beat("vm-a", "lincoln", 999.0, account="a"), beat("vm-a", "shaun", 990.0, account="g")]
    vms, _ = fleet.build(beats, {"hb:lincoln:vm-a"}, [], Names("zf"), 1000.0)
    assert vms[0].state == "idle"
    assert [(r.agent, r.state) for r in vms[0].agents] == [("lincoln", "idle"), ("shaun", "gone")]


def test_a_heartbeat_lands_in_the_register_which_keeps_a_gone_vm_and_forgets_it_after_a_day(
    client: redis.Redis, names: Names
) -> None:
    store = TaskStore(client, names, retention=300, events_maxlen=1000)
    store.heartbeat("lincoln", "vm-a", 11, ttl=0.3, task="", paused="", account="alice", url="http://a/")
    store.heartbeat("lincoln", "vm-old", 12, ttl=0.3, account="zed")
    old = json.loads(str(client.hget(names.fleet_key, "vm-old/lincoln")))
    client.hset(names.fleet_key, "vm-old/lincoln", json.dumps({**old, "at": time.time() - 2 * 86400}))
    beats = fleet.register(store)
    assert [(b["vm_id"], b["account"]) for b in beats] == [("vm-a", "alice")]
    assert client.hexists(names.fleet_key, "vm-old/lincoln") == 0
    live = set(store.live_heartbeat_keys())
    assert fleet.build(beats, live, [], names, time.time())[0][0].state == "idle"
    time.sleep(0.4)
    live = set(store.live_heartbeat_keys())
    assert fleet.build(fleet.register(store), live, [], names, time.time())[0][0].state == "gone"


def test_the_fleet_table_lists_every_vm_and_flags_a_queue_no_vm_serves() -> None:
    beats = [beat("vm-a", "lincoln", 999.0, account="alice", url="http://a:8080/")]
    vms, rows = fleet.build(beats, set(), [QueueStats("zf.lincoln.acct.alice", 3, 0, 0)], Names("zf"), 1000.0)
    text = fleet.format_table(fleet.FleetView(vms, rows, "management", 1000.0))
    assert "vm-a" in text and "gone" in text and "lincoln (alice)" in text and "lincoln alice: 3" in text
    assert "zf.lincoln.acct.alice" in text and "no VM serves it" in text
    assert fleet.FleetView(vms, rows, "amqp", 1.0).as_dict()["queues"][0]["unserved"] is True


def test_the_fleet_table_says_so_when_no_vm_has_sent_a_heartbeat() -> None:
    assert "no VM has sent a heartbeat" in fleet.format_table(fleet.FleetView([], [], "none", 0.0))
