"""The agent runtime through the whole path: RabbitMQ -> supervised agent -> Chromium -> Redis and back."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from zigral import broker, probes
from zigral.client import Client
from zigral.config import load_settings
from zigral.constants import Names
from zigral.messages import Command, Result
from zigral.state import TaskStore
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, free_port, services_available
from .hostile import Hostile, corpus

pytestmark = pytest.mark.integration

TITLE_PAGE = """<!doctype html><html><head><title>Fixture title</title></head>
<body><h1 id="greeting">Hello, agent</h1>
<table id="people"><tr><th>Name</th><th>Role</th></tr><tr><td>Ada</td><td>Engineer</td></tr></table>
<form><label>Password <input type="password" name="pw" value="hunter2"></label></form>
</body></html>"""


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with serve() as fixture:
        fixture.page("/title", TITLE_PAGE)
        yield fixture


@pytest.fixture(scope="module")
def cookie_site(site: FixtureServer) -> FixtureServer:
    site.page(
        "/login-once",
        "<title>signed in</title>",
        headers={"Set-Cookie": "session=kept; Max-Age=86400; Path=/"},
    )

    @site.route("/whoami")
    def whoami(req: Any) -> tuple[int, dict[str, str], bytes]:
        cookie = req.headers.get("Cookie", "")
        return 200, {"Content-Type": "text/html"}, f"<title>{cookie or 'nobody'}</title>".encode()

    return site


@pytest.fixture(scope="module")
def rt(site: FixtureServer) -> Iterator[Stack]:
    services_available(load_settings())
    with booted_stack(
        vm_id="vm-a",
        rabbitmq={"heartbeat": 2},
        runtime={
            "allow_private": [f"127.0.0.1:{site.port}", f"127.0.0.1:{DEAD_PORT}"],
            "retry_base_delay": 0.2,
            "retry_max_delay": 1.0,
            "heartbeat_interval": 1.0,
            "max_attempts": 3,
            "shutdown_grace": 10,
        },
    ) as s:
        wait_for_heartbeat(s, "lincoln")
        yield s


DEAD_PORT = free_port()  # allowed by the policy, nothing listens: a retryable navigation error


def store_of(stack: Stack) -> TaskStore:
    return TaskStore.from_settings(stack.settings)


def wait_for_heartbeat(stack: Stack, agent: str, timeout: float = 60) -> dict[str, Any]:
    store = store_of(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beats = store.heartbeats(agent)
        if beats:
            return beats[0]
        time.sleep(0.2)
    raise AssertionError(f"no heartbeat from {agent}: {stack.log(agent)[-2000:]}")


def call(stack: Stack, action: str, agent: str = "lincoln", wait: float = 120, **kw: Any) -> Result:
    """Submit a command and wait for its final result on reply_to (``kw`` are Command fields)."""
    with Client(stack.settings) as client:
        return client.call(Command(agent=agent, action=action, **kw), timeout=wait)


def wait_status(stack: Stack, task_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    store = store_of(stack)
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = store.get(task_id)
        if record and record["status"] in statuses:
            return record
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {statuses}: {record}")


def raw_publish(stack: Stack, body: bytes, routing_key: str = "lincoln.navigate", **props: Any) -> None:
    names = Names(stack.settings.runtime.namespace)
    conn = broker.connect(stack.settings)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(
            names.commands_exchange,
            routing_key,
            body,
            pika.BasicProperties(delivery_mode=2, **props),
            mandatory=True,
        )
    finally:
        conn.close()


def dead_letters(stack: Stack) -> dict[str, dict[str, Any]]:
    names = Names(stack.settings.runtime.namespace)
    conn = broker.connect(stack.settings)
    try:
        return {d["id"]: d for d in broker.dead_letters(conn.channel(), names, limit=500)}
    finally:
        conn.close()


# ---------------------------------------------------------------------------- the round trip
def test_a_command_round_trips_to_redis_the_events_exchange_and_reply_to(
    rt: Stack, site: FixtureServer
) -> None:
    names = Names(rt.settings.runtime.namespace)
    conn = broker.connect(rt.settings)
    ch = conn.channel()
    events = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(events, names.events_exchange, routing_key="task.lincoln.*")
    result = call(rt, "navigate", params={"url": site.url("/title")})
    assert result.status == "succeeded", result
    assert result.result["title"] == "Fixture title"
    assert result.vm_id == "vm-a"
    record = store_of(rt).get(result.id)
    assert record is not None and record["status"] == "succeeded"
    assert record["result"]["title"] == "Fixture title"
    statuses = [h["status"] for h in store_of(rt).history(result.id)]
    assert statuses == ["running", "succeeded"]
    seen = []
    for _ in range(20):
        method, _props, body = ch.basic_get(events, auto_ack=True)
        if method is None:
            break
        event = Result.decode(body)
        if event.id == result.id:
            seen.append((method.routing_key, event.status))
    conn.close()
    assert seen == [("task.lincoln.running", "running"), ("task.lincoln.succeeded", "succeeded")]


def test_extract_reads_text_and_tables_from_the_page(rt: Stack, site: FixtureServer) -> None:
    assert call(rt, "navigate", params={"url": site.url("/title")}).status == "succeeded"
    text = call(rt, "extract", params={"selector": "#greeting"})
    assert text.result == {"value": "Hello, agent"}
    table = call(rt, "extract", params={"selector": "#people", "kind": "table"})
    assert table.result == {"value": [["Name", "Role"], ["Ada", "Engineer"]]}


def test_the_same_id_published_twice_is_executed_once(rt: Stack, site: FixtureServer) -> None:
    before = site.hits["/title"]
    command = Command(
        id=f"dup-{uuid.uuid4().hex[:8]}",
        agent="lincoln",
        action="navigate",
        params={"url": site.url("/title")},
    )
    with Client(rt.settings) as client:
        first = client.call(command, timeout=60)
        second = client.call(command, timeout=60)
    assert first.status == second.status == "succeeded"
    assert second.result == first.result
    assert site.hits["/title"] == before + 1
    assert [h["status"] for h in store_of(rt).history(command.id)] == ["running", "succeeded"]


# ---------------------------------------------------------------------------- bad input
def test_bad_messages_are_dead_lettered_with_a_reason_and_the_agent_keeps_serving(rt: Stack) -> None:
    raw_publish(rt, b"{not json", message_id="bad-json")
    raw_publish(
        rt, json.dumps({"id": "bad-action", "agent": "lincoln", "action": "fly"}).encode(), "lincoln.fly"
    )
    raw_publish(
        rt,
        json.dumps(
            {"id": "bad-params", "agent": "lincoln", "action": "navigate", "params": {"url": 42, "extra": 1}}
        ).encode(),
    )
    big = {"id": "too-big", "agent": "lincoln", "action": "echo", "params": {"x": "a" * 300_000}}
    raw_publish(rt, json.dumps(big).encode(), "lincoln.echo")
    for task_id in ("bad-json", "bad-action", "bad-params", "too-big"):
        wait_status(rt, task_id, {"rejected"})
    letters = dead_letters(rt)
    assert "malformed JSON" in letters["bad-json"]["reason"]
    assert "unknown action 'fly'" in letters["bad-action"]["reason"]
    assert "invalid params for navigate" in letters["bad-params"]["reason"]
    assert "exceeds the limit" in letters["too-big"]["reason"]
    assert {letters[i]["status"] for i in ("bad-json", "bad-action", "bad-params", "too-big")} == {"rejected"}
    assert call(rt, "echo", params={"still": "alive"}).result == {"still": "alive"}


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://127.0.0.1:{cdp}/json", "http://169.254.169.254/latest/meta-data/"]
)
def test_internal_urls_are_refused(rt: Stack, url: str) -> None:
    result = call(rt, "navigate", params={"url": url.format(cdp=rt.settings.browser.cdp_port)})
    assert result.status == "rejected"
    assert "URL refused" in (result.error or "")


def test_publishing_to_an_agent_that_does_not_exist_is_reported_to_the_client(rt: Stack) -> None:
    from zigral.errors import Unroutable

    with Client(rt.settings) as client, pytest.raises(Unroutable):
        client.submit(Command(agent="nobody", action="echo"))


# ---------------------------------------------------------------------------- failures
def test_a_retryable_failure_is_retried_with_backoff_then_dead_lettered(rt: Stack) -> None:
    result = call(rt, "navigate", params={"url": f"http://127.0.0.1:{DEAD_PORT}/"})
    assert result.status == "failed"
    assert "gave up after 3 attempts" in (result.error or "")
    history = [h["status"] for h in store_of(rt).history(result.id)]
    assert history == ["running", "queued", "running", "queued", "running", "failed"]
    letter = dead_letters(rt)[result.id]
    # Through the egress proxy the refused connection is squid's ERR_CONNECT_FAIL (errno 111).
    assert letter["status"] == "failed" and "ERR_CONNECT_FAIL 111" in letter["reason"]
    record = store_of(rt).get(result.id)
    assert record is not None and record["attempts"] == 3
    assert any(path.endswith(".png") for path in record["captures"])  # captured on failure


def test_a_command_past_its_deadline_times_out_and_its_tab_is_closed(rt: Stack) -> None:
    result = call(rt, "sleep", params={"seconds": 30}, timeout=1.5)
    assert result.status == "timed_out"
    assert call(rt, "echo", params={"next": True}).status == "succeeded"


def test_a_command_older_than_its_max_age_expires_unexecuted(rt: Stack) -> None:
    result = call(rt, "echo", params={}, created_at=time.time() - 100, max_age=10)
    assert result.status == "expired"
    assert [h["status"] for h in store_of(rt).history(result.id)] == ["expired"]


def test_a_command_longer_than_twice_the_heartbeat_keeps_its_connection(rt: Stack) -> None:
    assert rt.settings.rabbitmq.heartbeat == 2
    pid = rt.pid("agents:lincoln")
    result = call(rt, "sleep", params={"seconds": 7}, timeout=30)
    assert result.status == "succeeded"
    assert rt.pid("agents:lincoln") == pid
    assert "lost RabbitMQ" not in rt.log("lincoln")
    assert "RabbitMQ unavailable" not in rt.log("lincoln")


def test_captures_are_saved_on_request_with_passwords_scrubbed(rt: Stack, site: FixtureServer) -> None:
    result = call(rt, "navigate", params={"url": site.url("/title")}, capture=True)
    assert result.status == "succeeded"
    pngs = [p for p in result.captures if p.endswith(".png")]
    htmls = [p for p in result.captures if p.endswith(".html")]
    assert pngs and htmls
    assert pngs[0].startswith(f"screenshots/lincoln/{time.strftime('%Y-%m-%d', time.gmtime())}/{result.id}-")
    html = (rt.settings.captures.dir / htmls[0]).read_text()
    assert "Hello, agent" in html and "hunter2" not in html
    png = (rt.settings.captures.dir / pngs[0]).read_bytes()
    assert png.startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- crashes
def test_an_agent_killed_mid_command_is_restarted_and_the_command_completes_once(rt: Stack) -> None:
    task_id = f"kill-{uuid.uuid4().hex[:8]}"
    with Client(rt.settings) as client:
        client.submit(Command(id=task_id, agent="lincoln", action="sleep", params={"seconds": 3}, timeout=60))
    wait_status(rt, task_id, {"running"})
    os.kill(rt.pid("agents:lincoln"), signal.SIGKILL)
    record = wait_status(rt, task_id, {"succeeded", "failed"}, timeout=90)
    assert record["status"] == "succeeded"
    assert record["attempts"] == 2
    assert [h["status"] for h in store_of(rt).history(task_id)].count("succeeded") == 1


def test_chromium_killed_mid_command_the_command_succeeds_after_the_restart(
    rt: Stack, site: FixtureServer
) -> None:
    task_id = f"chrome-{uuid.uuid4().hex[:8]}"
    with Client(rt.settings) as client:
        client.submit(Command(id=task_id, agent="lincoln", action="sleep", params={"seconds": 4}, timeout=60))
        wait_status(rt, task_id, {"running"})
        time.sleep(0.5)
        os.kill(rt.pid("chromium"), signal.SIGKILL)
        record = wait_status(rt, task_id, {"succeeded", "failed"}, timeout=120)
    assert record["status"] == "succeeded", record
    assert record["attempts"] >= 2
    probes.wait_for(lambda: probes.cdp_version(rt.settings.browser.cdp_port), "CDP", timeout=30)
    assert call(rt, "navigate", params={"url": site.url("/title")}).status == "succeeded"


def test_a_poison_message_that_kills_the_agent_every_time_ends_in_the_dead_letter_queue(rt: Stack) -> None:
    task_id = f"poison-{uuid.uuid4().hex[:8]}"
    with Client(rt.settings) as client:
        client.submit(
            Command(id=task_id, agent="lincoln", action="sleep", params={"seconds": 20}, timeout=60)
        )
    store = store_of(rt)
    for attempt in (1, 2, 3):
        deadline = time.monotonic() + 60
        while True:
            record = store.get(task_id) or {}
            if record.get("status") == "running" and record.get("attempts") == attempt:
                break
            assert time.monotonic() < deadline, record
            time.sleep(0.1)
        os.kill(rt.pid("agents:lincoln"), signal.SIGKILL)
    record = wait_status(rt, task_id, {"failed"}, timeout=90)
    assert "gave up after 3 attempts" in record["error"]
    assert dead_letters(rt)[task_id]["status"] == "failed"


def test_priorities_reorder_a_waiting_backlog(rt: Stack) -> None:
    rt.ctl("stop", "agents:lincoln")
    ids = []
    with Client(rt.settings) as client:
        for i in range(4):
            ids.append(
                client.submit(Command(agent="lincoln", action="echo", params={"i": i}, priority="low"))
            )
        urgent = client.submit(
            Command(agent="lincoln", action="echo", params={"urgent": True}, priority="critical")
        )
    rt.ctl("start", "agents:lincoln")
    store = store_of(rt)
    records = [wait_status(rt, task_id, {"succeeded"}) for task_id in [*ids, urgent]]
    started = {r["id"]: r["started_at"] for r in records}
    assert started[urgent] < min(started[i] for i in ids)
    assert store.get(urgent) is not None


def test_sigterm_lets_the_command_in_flight_finish(rt: Stack) -> None:
    task_id = f"term-{uuid.uuid4().hex[:8]}"
    with Client(rt.settings) as client:
        client.submit(Command(id=task_id, agent="lincoln", action="sleep", params={"seconds": 2}))
    wait_status(rt, task_id, {"running"})
    rt.ctl("stop", "agents:lincoln")
    record = store_of(rt).get(task_id)
    assert record is not None and record["status"] == "succeeded"
    assert "lincoln stopped after" in rt.log("lincoln")
    rt.ctl("start", "agents:lincoln")


def test_a_heartbeat_names_the_vm_and_vanishes_when_the_agent_stops(rt: Stack) -> None:
    beat = wait_for_heartbeat(rt, "shaun")
    assert beat["vm_id"] == "vm-a" and beat["pid"] == rt.pid("agents:shaun")
    health = rt.zigral("health", "shaun")
    assert health.returncode == 0
    rt.ctl("stop", "agents:shaun")
    time.sleep(rt.settings.runtime.heartbeat_interval + 1.5)
    assert store_of(rt).heartbeats("shaun") == []
    assert rt.zigral("health", "shaun").returncode == 1
    rt.ctl("start", "agents:shaun")


def test_tabs_do_not_leak_over_many_commands(rt: Stack, site: FixtureServer) -> None:
    def tabs() -> int:
        import urllib.request

        with urllib.request.urlopen(f"{rt.settings.cdp_url}/json/list", timeout=5) as resp:
            return sum(1 for t in json.load(resp) if t["type"] == "page")

    assert call(rt, "navigate", params={"url": site.url("/title")}).status == "succeeded"
    before = tabs()
    with Client(rt.settings) as client:
        title = {"selector": "title", "kind": "html"}
        ids = [client.submit(Command(agent="lincoln", action="extract", params=title)) for _ in range(1000)]
    for task_id in ids[-5:]:
        wait_status(rt, task_id, {"succeeded"}, timeout=300)
    assert tabs() == before


def test_a_login_made_in_the_browser_survives_a_chromium_restart(
    rt: Stack, cookie_site: FixtureServer
) -> None:
    assert call(rt, "navigate", params={"url": cookie_site.url("/login-once")}).status == "succeeded"
    old = rt.pid("chromium")
    assert "chromium: started" in rt.ctl("restart", "chromium")
    assert rt.pid("chromium") != old
    result = call(rt, "navigate", params={"url": cookie_site.url("/whoami")})
    assert result.status == "succeeded", result
    assert result.result["title"] == "session=kept"


# ---------------------------------------------------------------------------- the hostile corpus
EXPECTED = {
    "key-suffix id": {"succeeded"},
    "no id": {"succeeded"},
    "control echo": {"succeeded"},
    "too old": {"expired"},
    "broker expiration": {"expired", "succeeded"},  # expired while waiting, or served first
    "invalid then valid": {"rejected", "succeeded"},
}


def test_a_corpus_of_hostile_messages_is_every_one_accounted_for_and_the_agent_never_stops(rt: Stack) -> None:
    """Each message ends in a final reply (its dead letter, if any, carries the reason) or is returned
    unroutable; the agent settles one at least every 5 s, never restarts, leaves nothing running."""
    import psutil

    names = Names(rt.settings.runtime.namespace)
    pid = rt.pid("agents:lincoln")
    rss_before = psutil.Process(pid).memory_info().rss
    conn = broker.connect(rt.settings)
    ch = conn.channel()
    replies = ch.queue_declare("", exclusive=True).method.queue
    ch.confirm_delivery()
    sent: dict[str, Hostile] = {}
    unroutable = 0
    for seq, item in enumerate(corpus()):
        props = {k: v for k, v in item.props.items() if not k.startswith("_")}
        marker = f"m{seq}"
        try:
            ch.basic_publish(
                names.commands_exchange,
                item.routing_key,
                item.body,
                pika.BasicProperties(delivery_mode=2, reply_to=replies, correlation_id=marker, **props),
                mandatory=True,
            )
            sent[marker] = item
        except pika.exceptions.UnroutableError:
            assert item.kind == "unroutable", item.kind
            unroutable += 1
    assert len(sent) + unroutable >= 1000
    final: dict[str, Result] = {}
    arrivals: list[float] = []
    deadline = time.monotonic() + 300
    while len(final) < len(sent) and time.monotonic() < deadline:
        method, props, body = ch.basic_get(replies, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        result = Result.decode(body)
        if result.status in ("succeeded", "failed", "rejected", "expired", "timed_out"):
            final[props.correlation_id] = result
            arrivals.append(time.monotonic())
    missing = {m: sent[m].kind for m in sent if m not in final}
    assert not missing, f"{len(missing)} messages unaccounted for: {list(missing.items())[:10]}"
    for marker, item in sent.items():
        allowed = EXPECTED.get(item.kind, {"rejected"})
        assert final[marker].status in allowed, (item.kind, final[marker])
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) < 5, f"the agent went {max(gaps):.1f}s without settling a message"
    assert call(rt, "echo", params={"after": "corpus"}, wait=5).status == "succeeded"
    assert rt.pid("agents:lincoln") == pid, "the agent restarted"
    stuck = [r["id"] for r in store_of(rt).recent(limit=3000, agent="lincoln", status="running")]
    assert stuck == []
    grown = psutil.Process(pid).memory_info().rss - rss_before
    assert grown < 40 * 1024 * 1024, f"agent RSS grew {grown / 1e6:.0f} MB over the corpus"
    conn.close()


def test_a_command_that_expires_while_its_agent_is_down_gets_an_expired_record_and_a_reply(rt: Stack) -> None:
    rt.ctl("stop", "agents:lincoln")
    command = Command(id=f"ttl-{uuid.uuid4().hex[:8]}", agent="lincoln", action="echo")
    names = Names(rt.settings.runtime.namespace)
    conn = broker.connect(rt.settings)
    try:
        ch = conn.channel()
        replies = ch.queue_declare("", exclusive=True).method.queue
        ch.confirm_delivery()
        props = pika.BasicProperties(delivery_mode=2, expiration="200", reply_to=replies)
        ch.basic_publish(names.commands_exchange, "lincoln.echo", command.encode(), props, mandatory=True)
        time.sleep(0.5)
        rt.ctl("start", "agents:lincoln")
        record = wait_status(rt, command.id, {"expired", "succeeded"}, timeout=60)
        assert record["status"] == "expired" and "expired in the broker" in record["error"]
        deadline = time.monotonic() + 30
        while (reply := ch.basic_get(replies, auto_ack=True))[0] is None:
            assert time.monotonic() < deadline, "no reply"
            time.sleep(0.1)
        assert Result.decode(reply[2]).status == "expired"
    finally:
        conn.close()
