"""A fleet on one RabbitMQ and Redis: VMs under one namespace, each signed in to its own LinkedIn account
(two share a Google account). Commands addressed to an account run only on the VM serving it; a VM that goes
away leaves its account's commands waiting, shown gone in the fleet view, and they run when it comes back; a
VM waiting for a person holds its account's commands too. Also: a second RabbitMQ node takes over a VM's
connection, and a Sentinel URL.

Three VMs are "agent-only" (the lincoln and shaun workers as a VM's supervisor runs them, without display or
browser: account routing needs none); one is a whole private stack, for its status page and ops exporter.
Echo commands keep it fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from zigral import broker, fleet
from zigral.client import Client
from zigral.config import REPO_ROOT, Settings, load_settings
from zigral.constants import Names
from zigral.devstack import free_ports, purge_namespace
from zigral.launch import CHROMIUM_QUIET_FLAGS
from zigral.messages import Command
from zigral.state import TaskStore

from .conftest import booted_stack, eventually, require, services_available, unique_namespace
from .rabbitmq_node import available as rabbitmq_available
from .rabbitmq_node import private_rabbitmq
from .test_runtime_resilience import private_redis

pytestmark = pytest.mark.integration

ZIGRAL = str(Path(sys.executable).with_name("zigral"))
SHOTS = Path(os.environ.get("ZIGRAL_TEST_SHOTS", tempfile.gettempdir()))


class AgentVm:
    """A VM's two agent workers (``zigral agent lincoln|shaun``) with their own vm_id, accounts and ports."""

    def __init__(self, vm_id: str, base: Path, **env: str) -> None:
        self.vm_id = vm_id
        self.base = base / vm_id
        self.base.mkdir(parents=True)
        lincoln_port, shaun_port, cdp = free_ports(3)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ZIGRAL_")},
            "ZIGRAL_VM_ID": vm_id,
            "ZIGRAL_METRICS__LINCOLN_PORT": str(lincoln_port),
            "ZIGRAL_METRICS__SHAUN_PORT": str(shaun_port),
            "ZIGRAL_BROWSER__CDP_PORT": str(cdp),  # no browser: echo needs none
            "ZIGRAL_CAPTURES__DIR": str(self.base / "captures"),
            "ZIGRAL_OPS__CANARY_INTERVAL": "0",
            "ZIGRAL_WEB__PUBLIC_HOST": f"{vm_id}.fleet.test",
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for agent in ("lincoln", "shaun"):
            with (self.base / f"{agent}.log").open("ab") as log:  # the child keeps its own descriptor
                self.procs[agent] = subprocess.Popen(
                    [ZIGRAL, "agent", agent],
                    env=self.env,
                    cwd=self.base,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def kill(self) -> None:
        """Gone without a word, as a VM that loses power: no heartbeat is cleared, no consumer cancelled."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log(self, agent: str) -> str:
        return (self.base / f"{agent}.log").read_text(errors="replace")


@contextlib.contextmanager
def agent_vms(namespace: str, *specs: tuple[str, str, str], **env: str) -> Iterator[list[AgentVm]]:
    """Agent-only VMs ``(vm_id, lincoln account, shaun account)`` under ``namespace``, stopped after."""
    base = Path(tempfile.mkdtemp(prefix="zigral-fleet-"))
    vms = [
        AgentVm(
            vm,
            base,
            ZIGRAL_RUNTIME__NAMESPACE=namespace,
            ZIGRAL_LINCOLN__ACCOUNT=lincoln,
            ZIGRAL_SHAUN__ACCOUNT=shaun,
            **env,
        )
        for vm, lincoln, shaun in specs
    ]
    try:
        for vm in vms:
            vm.start()
        yield vms
    finally:
        for vm in vms:
            vm.stop()
        shutil.rmtree(base, ignore_errors=True)


def live_vms(store: TaskStore) -> set[str]:
    return {str(b["vm_id"]) for b in store.heartbeats()}


def wait_records(store: TaskStore, ids: list[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
    def done() -> dict[str, dict[str, Any]] | None:
        records = {i: store.get(i) or {} for i in ids}
        return records if all(r.get("status") == "succeeded" for r in records.values()) else None

    records: dict[str, dict[str, Any]] = eventually(done, f"{len(ids)} commands succeeded", timeout)
    for task_id in ids:  # none doubled: one run, one success each
        history = [h["status"] for h in store.history(task_id)]
        assert history.count("succeeded") == 1 and history.count("running") == 1, (task_id, history)
    return records


def submit(settings: Settings, commands: list[Command]) -> list[str]:
    with Client(settings) as client:
        return [client.submit(c) for c in commands]


def echo(agent: str = "lincoln", account: str | None = None, vm_id: str | None = None) -> Command:
    params = {"n": uuid.uuid4().hex[:6]}
    return Command(agent=agent, action="echo", params=params, account=account, vm_id=vm_id)


def metric(text: str, name: str, queue: str) -> float | None:
    match = re.search(rf'^{name}\{{queue="{re.escape(queue)}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_a_fleet_runs_each_account_s_commands_only_where_served_and_a_gone_or_held_vm_s_wait_for_it(
    open_dir: Path,
) -> None:
    services_available(load_settings())
    namespace = unique_namespace()
    names = Names(namespace)
    # A fourth VM whose LinkedIn session is signed out: it holds its queues until a person signs in.
    held = TaskStore.from_settings(load_settings(runtime={"namespace": namespace}))
    signed_out = json.dumps({"reason": "signed out (test)", "since": time.time()})
    held.client.set(names.needs_human_key("lincoln", "vm-d"), signed_out, ex=600)
    specs = [("vm-a", "alice", "g-shared"), ("vm-b", "bob", "g-shared"), ("vm-d", "dave", "g-dave")]
    try:
        with (
            contextlib.ExitStack() as stack,
            agent_vms(namespace, *specs) as (a, _b, _d),
            booted_stack(
                vm_id="vm-c",
                runtime={"namespace": namespace},
                lincoln={"account": "carol"},
                shaun={"account": "g-carol"},
            ) as c,
        ):
            settings = c.settings
            store = TaskStore.from_settings(settings)
            eventually(lambda: live_vms(store) == {"vm-a", "vm-b", "vm-c", "vm-d"}, "four VMs beating", 60)
            serving = {"alice": "vm-a", "bob": "vm-b", "carol": "vm-c"}
            for_dave = submit(settings, [echo(account="dave") for _ in range(2)])  # its VM waits for a person

            # 30 commands addressed to accounts run only on the VM serving each account.
            addressed = [echo(account=acct) for acct in serving for _ in range(10)]
            records = wait_records(store, submit(settings, addressed))
            for command in addressed:
                assert records[command.id]["vm_id"] == serving[str(command.account)], command.account
            # A Sheets account two VMs share: only those two take its commands.
            shared = [echo("shaun", account="g-shared") for _ in range(8)]
            records = wait_records(store, submit(settings, shared))
            assert {r["vm_id"] for r in records.values()} <= {"vm-a", "vm-b"}
            # A command addressed to one VM runs there.
            to_b = [echo(vm_id="vm-b") for _ in range(3)]
            assert {r["vm_id"] for r in wait_records(store, submit(settings, to_b)).values()} == {"vm-b"}
            # Version 1 commands, unaddressed, are spread over the VMs.
            plain = [echo() for _ in range(15)]
            spread = {r["vm_id"] for r in wait_records(store, submit(settings, plain)).values()}
            assert len(spread) >= 2, spread

            # VM A goes away: the fleet shows it gone within the heartbeat TTL, its account's commands wait.
            ttl = settings.runtime.heartbeat_interval + 1
            prometheus = stack.enter_context(private_prometheus(settings.metrics.ops_port, open_dir))
            a.kill()
            lost = time.monotonic()

            def a_state() -> str:
                return {vm.vm_id: vm.state for vm in fleet.view(settings, store).vms}["vm-a"]

            eventually(lambda: a_state() == "gone", "VM A shown gone", ttl + 5)
            to_gone = time.monotonic() - lost
            waiting = [echo(account="alice") for _ in range(5)]
            waiting_ids = submit(settings, waiting)
            ops_metrics = f"http://127.0.0.1:{settings.metrics.ops_port}/metrics"
            alice_queue = names.account_queue("lincoln", "alice")

            def unserved() -> bool:
                text = urllib.request.urlopen(ops_metrics, timeout=10).read().decode()
                ready = metric(text, "zigral_queue_messages_ready", alice_queue)
                return ready == 5 and metric(text, "zigral_queue_consumers", alice_queue) == 0

            eventually(unserved, "the exporter reports alice's commands with no consumer", 30)
            to_alert_condition = time.monotonic() - lost
            alert = "ZigralAddressedQueueUnserved"
            try:
                eventually(
                    lambda: firing(prometheus, alert, alice_queue), f"{alert} firing in Prometheus", 60
                )
            except AssertionError:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{prometheus}/api/v1/targets", timeout=5
                ) as resp:
                    raise AssertionError(f"{alert} not firing; targets: {resp.read()[:1500]!r}") from None
            to_alert = time.monotonic() - lost
            time.sleep(3)
            assert all(store.get(i) is None for i in waiting_ids), "an account's command ran without its VM"
            assert all(store.get(i) is None for i in for_dave), "a held VM's account's command ran elsewhere"
            states = {vm.vm_id: vm.state for vm in fleet.view(settings, store).vms}
            assert states == {"vm-a": "gone", "vm-b": "idle", "vm-c": "idle", "vm-d": "needs_human"}, states
            view = fleet.view(settings, store)
            row = next(q for q in view.queues if q.queue == alice_queue)
            assert row.ready == 5 and row.unserved
            shown = subprocess.run(
                [ZIGRAL, "--env-file", str(settings.paths.env_file), "fleet"], capture_output=True, text=True
            )
            for vm in ("vm-a", "vm-b", "vm-c", "vm-d"):
                assert vm in shown.stdout
            assert "no VM serves it" in shown.stdout and re.search(r"vm-a\s+gone", shown.stdout)
            shot = fleet_page_screenshot(c.settings, c.web_auth[1], SHOTS / "zigral-fleet-page.png")

            # VM A comes back: its account's commands run there, none lost or doubled.
            a.start()
            records = wait_records(store, waiting_ids, 60)
            assert {r["vm_id"] for r in records.values()} == {"vm-a"}

            def a_back() -> bool:  # the management API refreshes its queue figures every 5 s
                back = next(vm for vm in fleet.view(settings, store).vms if vm.vm_id == "vm-a")
                return back.state == "idle" and back.queues["lincoln alice"] == 0

            eventually(a_back, "VM A idle again with nothing queued", 20)
            print(
                f"\nheartbeat loss -> gone in the fleet view: {to_gone:.1f}s (TTL {ttl:.0f}s); "
                f"-> alert condition in the exporter: {to_alert_condition:.1f}s; -> {alert} firing with "
                f"'for: 10s': {to_alert:.1f}s (with the rule's 5m: {to_alert - 10 + 300:.0f}s); "
                f"screenshot {shot}"
            )
    finally:  # also after a failure: the account and VM queues live on the shared broker
        with contextlib.suppress(Exception):
            purge_fleet(load_settings(runtime={"namespace": namespace}), names)


@contextlib.contextmanager
def private_prometheus(ops_port: int, workdir: Path, hold: str = "10s") -> Iterator[int]:
    """A Prometheus scraping one VM's ops exporter every 3 s with Zigral's alert rules, the addressed
    queue alert's ``for: 5m`` shortened to ``hold`` so that a test sees it fire; its port."""
    require("prometheus", shutil.which("prometheus") is not None)
    rules = (REPO_ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    head, sep, tail = rules.partition("- alert: ZigralAddressedQueueUnserved")
    assert sep and "for: 5m" in tail.split("- alert:", 1)[0]
    (workdir / "alerts.yml").write_text(head + sep + tail.replace("for: 5m", f"for: {hold}", 1))
    target = f"{{targets: ['127.0.0.1:{ops_port}']}}"
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 3s, scrape_timeout: 3s, evaluation_interval: 1s}\n"
        f"rule_files: [{workdir / 'alerts.yml'}]\n"
        f"scrape_configs: [{{job_name: zigral-ops, static_configs: [{target}]}}]\n"
    )
    (port,) = free_ports(1)
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def firing(port: int, alert: str, queue: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as resp:
            alerts = json.load(resp)["data"]["alerts"]
    except OSError:
        return False
    return any(
        a["labels"].get("alertname") == alert and a["labels"].get("queue") == queue and a["state"] == "firing"
        for a in alerts
    )


def purge_fleet(settings: Settings, names: Names) -> None:
    """The account and VM queues the test declared (purge_namespace knows the shared ones)."""
    conn = broker.connect(settings)
    try:
        ch = conn.channel()
        for agent, kind, address in (
            ("lincoln", "acct", "alice"),
            ("lincoln", "acct", "bob"),
            ("lincoln", "acct", "carol"),
            ("shaun", "acct", "g-shared"),
            ("shaun", "acct", "g-carol"),
            ("lincoln", "acct", "dave"),
            ("shaun", "acct", "g-dave"),
            *((agent, "vm", vm) for agent in ("lincoln", "shaun") for vm in ("vm-a", "vm-b", "vm-c", "vm-d")),
        ):
            for waiting in ("", "retry", "deferred"):
                queue = (names.account_queue if kind == "acct" else names.vm_queue)(agent, address, waiting)
                ch.queue_delete(queue)
        for agent in ("lincoln", "shaun"):
            ch.queue_delete(names.expired_queue(agent))
    finally:
        conn.close()
    purge_namespace(settings)


def fleet_page_screenshot(settings: Settings, password: str, path: Path) -> Path:
    """The status page's Fleet section in headless Chromium, once it lists the four VMs."""
    with sync_playwright() as pw:
        viewer = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS]
        )
        try:
            page = viewer.new_page(
                http_credentials={"username": settings.web.user, "password": password},
                viewport={"width": 1400, "height": 1000},
                ignore_https_errors=True,  # the stack's self-signed certificate
            )
            page.goto(f"https://127.0.0.1:{settings.web.port}/status/")
            rows = page.locator("#fleet tbody tr")
            rows.nth(3).wait_for(timeout=20_000)
            text = page.locator("#fleet").inner_text()
            assert all(vm in text for vm in ("vm-a", "vm-b", "vm-c", "vm-d")) and "gone" in text
            assert page.locator("#fleet tr.gone").count() == 1
            assert page.locator("#fleet tr.human", has_text="vm-d").count() == 1  # stands out
            page.locator("#fleet-queues div").first.wait_for(timeout=10_000)
            assert "alice" in page.locator("#fleet-queues").inner_text()
            link = page.locator("#fleet tbody tr", has_text="vm-b").get_by_role("link")
            assert re.match(r"^https?://vm-b\.fleet\.test:\d+/vnc\.html", link.get_attribute("href") or "")
            page.locator("#fleet-section").screenshot(path=str(path))
        finally:
            viewer.close()
    return path


def test_a_second_rabbitmq_node_takes_over_when_the_first_stops(open_dir: Path) -> None:
    services_available(load_settings())
    require("rabbitmq-server and rabbitmqctl", rabbitmq_available())
    namespace = unique_namespace()
    with private_rabbitmq(open_dir) as first, private_rabbitmq(open_dir) as second:
        nodes = f"{first.url},{second.url}"
        # No management API on the private nodes (and 15672 is the shared broker's): figures over AMQP.
        settings = load_settings(
            runtime={"namespace": namespace},
            rabbitmq={"url": nodes},
            ops={"management_url": f"http://127.0.0.1:{free_ports(1)[0]}"},
        )
        store = TaskStore.from_settings(settings)
        with agent_vms(namespace, ("vm-n", "nina", "g-nina"), ZIGRAL_RABBITMQ__URL=nodes) as (vm,):
            eventually(lambda: live_vms(store) == {"vm-n"}, "the VM beating", 60)
            before = submit(settings, [echo(account="nina")])
            wait_records(store, before)
            first.ctl("stop")  # the whole node, not only its app
            stopped = time.monotonic()
            broker._first_node.clear()  # a fresh client starts at the first node, which is gone
            after = submit(settings, [echo(account="nina")])
            wait_records(store, after, 60)
            took_over = time.monotonic() - stopped
            assert "RabbitMQ unavailable" in vm.log("lincoln")
            print(f"\nsecond node took over: a command ran {took_over:.1f}s after the first node stopped")
            view = fleet.view(settings, store)
            assert view.queue_source == "amqp" and not view.errors, view.errors
            assert [(vm.vm_id, vm.state, vm.queues["lincoln nina"]) for vm in view.vms] == [
                ("vm-n", "idle", 0)
            ]
        keys = list(store.client.scan_iter(match=f"{namespace}:*"))
        if keys:
            store.client.delete(*keys)


def test_a_sentinel_url_reaches_the_master_the_sentinel_names_and_the_new_one_after_a_failover(
    open_dir: Path,
) -> None:
    require("redis-server", shutil.which("redis-server") is not None)
    master_port, replica_port, sentinel_port = free_ports(3)
    conf = open_dir / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {open_dir}\n"
        f"sentinel monitor zmaster 127.0.0.1 {master_port} 1\n"
        "sentinel down-after-milliseconds zmaster 1000\nsentinel failover-timeout zmaster 5000\n"
    )
    (open_dir / "replica").mkdir()
    with contextlib.ExitStack() as stack:
        master = stack.enter_context(private_redis(master_port, open_dir))
        stack.enter_context(private_redis(replica_port, open_dir / "replica"))
        subprocess.run(
            ["redis-cli", "-p", str(replica_port), "replicaof", "127.0.0.1", str(master_port)],
            check=True,
            capture_output=True,
        )
        sentinel = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
        stack.callback(sentinel.wait, timeout=10)
        stack.callback(sentinel.terminate)
        url = f"redis+sentinel://127.0.0.1:{sentinel_port}/zmaster/3"
        settings = load_settings(redis={"url": url})
        store = TaskStore.from_settings(settings)

        def writes(value: str) -> bool:
            try:
                store.client.set("zigral-sentinel-test", value)
                return True
            except Exception:  # the Sentinel is starting, or the failover is under way
                return False

        def on(port: int) -> str:
            done = subprocess.run(
                ["redis-cli", "-p", str(port), "-n", "3", "get", "zigral-sentinel-test"],
                capture_output=True,
                text=True,
            )
            return done.stdout.strip()

        eventually(lambda: writes("before"), "the master through the Sentinel", 20)
        assert on(master_port) == "before"
        assert sentinel_port in settings.stack_ports()  # the browser may never reach it
        eventually(lambda: on(replica_port) == "before", "the replica in sync", 20)
        master.terminate()
        master.wait(timeout=10)
        failed = time.monotonic()
        eventually(lambda: writes("after"), "a write to the master the Sentinel promoted", 60)
        assert on(replica_port) == "after"
        print(
            f"\nRedis failover: a write reached the promoted replica {time.monotonic() - failed:.1f}s later"
        )
