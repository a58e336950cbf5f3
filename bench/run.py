"""Zigral's benchmark harness: ``make bench`` (or ``python bench/run.py [--quick]``).

Boots a private stack (its own display, ports and namespace) on the machine's RabbitMQ and Redis, serves a
local fixture page, and measures, side by side and interleaved where a ratio is reported:

1. overhead per command: navigate + title through the whole path vs. the same Playwright calls made directly;
2. runtime throughput: a no-browser echo through one agent vs. a dramatiq worker with the same durability;
3. cold start: supervisord start -> every part ready (doctor green) -> first completed command;
4. recovery: SIGKILL of Chromium -> next completed command; stop_app/start_app of a private RabbitMQ node
   -> next command;
5. memory: PSS of each supervised program idle and after many commands;
6. captures: a 1920x1080 screenshot plus the HTML snapshot;
7. scale: drain throughput and latency with 100 / 1,000 / 10,000 queued commands; both agents at once;
8. site agents: Lincoln's visit_profile and Shaun's 10x10 write+verify on the local fixture sites;
9. where the time goes: timers on the boundaries of an in-process agent over navigate commands.

Writes ``bench/results/latest.json`` and ``latest.md``. Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fixture sites live with the tests

from tests.integration import rabbitmq_node  # noqa: E402
from tests.integration.linkedin_site import LinkedInSite  # noqa: E402
from tests.integration.sheets_site import SheetsSite  # noqa: E402

from zigral import probes, supervision  # noqa: E402
from zigral.actions import ActionContext  # noqa: E402
from zigral.captures import CaptureStore  # noqa: E402
from zigral.client import Client  # noqa: E402
from zigral.config import Settings  # noqa: E402
from zigral.constants import TERMINAL  # noqa: E402
from zigral.deadline import Deadline  # noqa: E402
from zigral.devstack import free_port, private_stack, unique_namespace  # noqa: E402
from zigral.messages import Command  # noqa: E402
from zigral.state import TaskStore  # noqa: E402
from zigral.testing.server import FixtureServer, serve  # noqa: E402
from zigral.urlpolicy import UrlPolicy  # noqa: E402

PAGE = """<!doctype html><html><head><title>Bench page</title></head>
<body><h1>Benchmark fixture</h1><p>{}</p></body></html>""".format("lorem ipsum " * 200)

PROGRAMS = (
    "xvfb",
    "wm",
    "x11vnc",
    "squid",
    "chromium",
    "websockify",
    "nginx",
    "agents:lincoln",
    "agents:shaun",
    "ops",
)


# ---------------------------------------------------------------------------- statistics
def stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=20) if len(s) >= 2 else [s[0]] * 19
    quart = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
    return {
        "n": len(s),
        "median": statistics.median(s),
        "p95": q[18],
        "iqr": quart[2] - quart[0],
        "min": s[0],
        "max": s[-1],
    }


def ms(d: dict[str, float]) -> str:
    return f"{d['median'] * 1000:.1f} ms (p95 {d['p95'] * 1000:.1f}, IQR {d['iqr'] * 1000:.1f}, n={d['n']})"


# ---------------------------------------------------------------------------- helpers
def call(settings: Settings, agent: str, action: str, timeout: float = 120, **params: Any) -> Any:
    with Client(settings) as client:
        return client.call(Command(agent=agent, action=action, params=params), timeout=timeout)


def wait_done(store: TaskStore, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    records = []
    for task_id in ids:
        while True:
            record = store.get(task_id)
            if record and record.get("status") in TERMINAL:
                records.append(record)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} not done in {timeout}s")
            time.sleep(0.005)
    return records


def pss(settings: Settings, name: str) -> int:
    try:
        root = psutil.Process(supervision.pid_of(settings, name))
    except (psutil.NoSuchProcess, OSError):
        return 0
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def machine() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            return (
                subprocess.run(argv, capture_output=True, text=True, timeout=30)
                .stdout.strip()
                .splitlines()[0]
            )
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "chromium": version(["/usr/bin/chromium", "--version"]),
        "rabbitmq": version(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"]),
        "redis": version(["redis-server", "--version"]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


@contextmanager
def dramatiq_worker(settings: Settings, namespace: str) -> Iterator[psutil.Process]:
    env = {
        **os.environ,
        "ZIGRAL_BENCH_NS": namespace,
        "ZIGRAL_BENCH_AMQP": settings.rabbitmq.url,
        "ZIGRAL_BENCH_REDIS": settings.redis.url,
        "dramatiq_queue_prefetch": "1",
        "dramatiq_prom_port": str(free_port()),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dramatiq")),
            "bench.peer_dramatiq",
            "--processes",
            "1",
            "--threads",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # the worker declares its queue and starts consuming
        yield psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


# ---------------------------------------------------------------------------- sections
def overhead(settings: Settings, url: str, n: int) -> dict[str, Any]:
    zigral, direct = [], []
    with Client(settings) as client, sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(settings.cdp_url)
        page = browser.contexts[0].new_page()
        for i in range(n + 3):
            t0 = time.perf_counter()
            result = client.call(Command(agent="lincoln", action="navigate", params={"url": url}), timeout=60)
            t1 = time.perf_counter()
            page.goto(url)
            page.title()
            t2 = time.perf_counter()
            assert result.status == "succeeded", result
            if i >= 3:  # warm-up
                zigral.append(t1 - t0)
                direct.append(t2 - t1)
        page.close()
    z, d = stats(zigral), stats(direct)
    return {
        "zigral": z,
        "direct": d,
        "ratio": z["median"] / d["median"],
        "added_ms": (z["median"] - d["median"]) * 1000,
    }


def throughput(settings: Settings, n: int, rounds: int) -> dict[str, Any]:
    import dramatiq  # installed by the harness's own setup (the bench extra)

    store = TaskStore.from_settings(settings)
    ns = "zpeer" + uuid.uuid4().hex[:6]
    os.environ.update(
        {
            "ZIGRAL_BENCH_NS": ns,
            "ZIGRAL_BENCH_AMQP": settings.rabbitmq.url,
            "ZIGRAL_BENCH_REDIS": settings.redis.url,
        }
    )
    import importlib

    peer = importlib.import_module("bench.peer_dramatiq")
    zig_rates, peer_rates = [], []
    zig_cpu, peer_cpu = [], []
    agent = psutil.Process(supervision.pid_of(settings, "agents:lincoln"))

    def cpu(proc: psutil.Process) -> float:
        """CPU seconds of a process and its children: a figure the machine's load hardly moves."""
        total = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total

    with dramatiq_worker(settings, ns) as peer_proc:
        for _ in range(rounds):
            c0 = cpu(agent)
            with Client(settings) as client:
                t0 = time.perf_counter()
                ids = [
                    client.submit(Command(agent="lincoln", action="echo", params={"i": i})) for i in range(n)
                ]
                wait_done(store, ids, timeout=600)
                zig_rates.append(n / (time.perf_counter() - t0))
            zig_cpu.append((cpu(agent) - c0) / n)
            c0 = cpu(peer_proc)
            t0 = time.perf_counter()
            keys = []
            for i in range(n):
                task_id = uuid.uuid4().hex
                peer.echo.send(task_id, {"i": i})
                keys.append(f"{ns}:peer:{task_id}")
            deadline = time.monotonic() + 600
            for key in keys:
                while not store.client.exists(key):
                    if time.monotonic() > deadline:
                        raise TimeoutError("dramatiq peer too slow")
                    time.sleep(0.005)
            peer_rates.append(n / (time.perf_counter() - t0))
            peer_cpu.append((cpu(peer_proc) - c0) / n)
            store.client.delete(*keys)
    del dramatiq
    zm, pm = statistics.median(zig_rates), statistics.median(peer_rates)
    return {
        "zigral_per_s": zig_rates,
        "dramatiq_per_s": peer_rates,
        "zigral_median": zm,
        "dramatiq_median": pm,
        "ratio": zm / pm,
        "zigral_cpu_ms_per_command": statistics.median(zig_cpu) * 1000,
        "dramatiq_cpu_ms_per_command": statistics.median(peer_cpu) * 1000,
        "n": n,
        "rounds": rounds,
    }


def cold_start(url: str, rounds: int) -> dict[str, Any]:
    ready, first = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        with private_stack(runtime={"allow_private": [url.split("/")[2]]}) as settings:
            t1 = time.perf_counter()
            result = call(settings, "lincoln", "navigate", url=url)
            t2 = time.perf_counter()
            assert result.status == "succeeded", result
            ready.append(t1 - t0)
            first.append(t2 - t0)
    return {"ready": stats(ready), "first_command": stats(first)}


def recovery(settings: Settings, url: str, rounds: int) -> dict[str, Any]:
    def until_success(settings: Settings = settings) -> None:
        while True:
            try:
                result = call(settings, "lincoln", "navigate", url=url, timeout=120)
                if result.status == "succeeded":
                    return
            except Exception:  # the broker may be away: try again
                time.sleep(0.2)

    chrome = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        os.kill(supervision.pid_of(settings, "chromium"), signal.SIGKILL)
        until_success()
        chrome.append(time.perf_counter() - t0)
    broker_total, broker_after_start = [], []
    # On a RabbitMQ node of its own, with a stack of its own on it: the machine's broker (and the agents of
    # a production VM on it) is never restarted by a benchmark.
    runtime = {"allow_private": list(settings.runtime.allow_private)}
    with (
        rabbitmq_node.private_rabbitmq() as rabbit,
        private_stack(rabbitmq={"url": rabbit.url}, runtime=runtime) as own,
    ):
        until_success(own)
        for _ in range(max(1, rounds // 2)):
            t0 = time.perf_counter()
            rabbit.restart_app()
            t1 = time.perf_counter()
            until_success(own)
            t2 = time.perf_counter()
            broker_total.append(t2 - t0)
            broker_after_start.append(t2 - t1)
    return {
        "chromium_kill": stats(chrome),
        "rabbitmq_restart_total": stats(broker_total),
        "rabbitmq_after_start_app": stats(broker_after_start),
    }


def memory(settings: Settings, url: str, commands: int) -> dict[str, Any]:
    idle = {name: pss(settings, name) for name in PROGRAMS}
    store = TaskStore.from_settings(settings)
    call(settings, "lincoln", "navigate", url=url)
    with Client(settings) as client:
        ids = [
            client.submit(Command(agent="lincoln", action="extract", params={"selector": "h1"}))
            for _ in range(commands)
        ]
    wait_done(store, ids, timeout=1200)
    after = {name: pss(settings, name) for name in PROGRAMS}
    return {
        "idle_mib": {k: v / 2**20 for k, v in idle.items()},
        "after_mib": {k: v / 2**20 for k, v in after.items()},
        "commands": commands,
        "idle_total_mib": sum(idle.values()) / 2**20,
        "after_total_mib": sum(after.values()) / 2**20,
    }


def proxy_hop(settings: Settings, url: str, n: int) -> dict[str, Any]:
    """A page load with and without the egress proxy, interleaved, from two browsers launched alike."""
    from zigral import egress
    from zigral.launch import CHROMIUM_QUIET_FLAGS
    from zigral.secrets import read_secret

    direct, proxied = [], []
    with sync_playwright() as pw:
        launch = {"executable_path": "/usr/bin/chromium", "headless": True}
        plain = pw.chromium.launch(args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS], **launch)  # type: ignore[arg-type]
        # squid serves only requests signed with the door's password (the stack's Chromium gets them
        # signed by its proxy door); this browser signs its own.
        door = {
            "server": f"http://127.0.0.1:{settings.egress.port}",
            "username": egress.DOOR_USER,
            "password": read_secret(egress.door_password_file(settings)),
        }
        walled = pw.chromium.launch(
            args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS],
            proxy=door,  # type: ignore[arg-type]
            **launch,  # type: ignore[arg-type]
        )
        pages = plain.new_page(), walled.new_page()
        for i in range(n + 3):
            for page, samples in zip(pages, (direct, proxied), strict=True):
                t0 = time.perf_counter()
                page.goto(f"{url}?i={i}")
                if i >= 3:
                    samples.append(time.perf_counter() - t0)
        plain.close()
        walled.close()
    d, p = stats(direct), stats(proxied)
    return {
        "direct": d,
        "proxied": p,
        "ratio": p["median"] / d["median"],
        "added_ms": (p["median"] - d["median"]) * 1000,
    }


def capture_cost(settings: Settings, url: str, n: int, tmp: Path) -> dict[str, Any]:
    samples = []
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(settings.cdp_url)
        page = browser.contexts[0].new_page()
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.goto(url)
        ctx = ActionContext(page, "bench", Deadline(600), UrlPolicy(), CaptureStore(tmp, "bench"))
        for i in range(n + 2):
            t0 = time.perf_counter()
            ctx.capture(f"step{i}")
            if i >= 2:
                samples.append(time.perf_counter() - t0)
        page.close()
    return {"screenshot_plus_html": stats(samples)}


def scale(settings: Settings, url: str, sizes: list[int], both_n: int) -> dict[str, Any]:
    store = TaskStore.from_settings(settings)
    backlog = {}
    for size in sizes:
        supervision.ctl(settings, "stop", "agents:lincoln")
        with Client(settings) as client:
            ids = [
                client.submit(Command(agent="lincoln", action="echo", params={"i": i})) for i in range(size)
            ]
        supervision.ctl(settings, "start", "agents:lincoln")
        records = wait_done(store, ids, timeout=3600)
        # The agent's own start-up is not part of the drain: from the first start to the last finish.
        elapsed = max(float(r["finished_at"]) for r in records) - min(float(r["started_at"]) for r in records)
        waits = [float(r["finished_at"]) - float(r["created_at"]) for r in records]
        runs = [float(r["finished_at"]) - float(r["started_at"]) for r in records]
        backlog[str(size)] = {
            "drain_per_s": size / elapsed,
            "queue_to_done": stats(waits),
            "run": stats(runs),
        }
    # Both agents busy on the one Chromium, vs. one agent alone.
    alone, both = [], []
    with Client(settings) as client:
        t0 = time.perf_counter()
        ids = [
            client.submit(Command(agent="lincoln", action="navigate", params={"url": url}))
            for _ in range(both_n)
        ]
        wait_done(store, ids, timeout=1200)
        alone.append(both_n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        ids = [
            client.submit(Command(agent=agent, action="navigate", params={"url": url}))
            for _ in range(both_n // 2)
            for agent in ("lincoln", "shaun")
        ]
        wait_done(store, ids, timeout=1200)
        both.append(len(ids) / (time.perf_counter() - t0))
    return {"backlog": backlog, "navigate_one_agent_per_s": alone[0], "navigate_two_agents_per_s": both[0]}


def site_agents(
    li: FixtureServer, sheets: FixtureServer, n_visit: int, n_write: int, tmp: Path
) -> dict[str, Any]:
    creds = tmp / "linkedin.json"
    creds.write_text(json.dumps({"username": LinkedInSite.username, "password": LinkedInSite.password}))
    overrides = {
        "runtime": {"allow_private": [li.base.split("/")[2], sheets.base.split("/")[2]]},
        "lincoln": {
            "base_url": li.base,
            "credentials_file": str(creds),
            "pause_min": 0,
            "pause_max": 0,
            "keystroke_min_ms": 0,
            "keystroke_max_ms": 0,
        },
        "shaun": {"base_url": sheets.base, "keystroke_delay_ms": 0},
    }
    visits, writes = [], []
    with private_stack(**overrides) as settings:  # type: ignore[arg-type]
        assert call(settings, "lincoln", "login").status == "succeeded"
        for i in range(n_visit + 1):
            t0 = time.perf_counter()
            result = call(settings, "lincoln", "visit_profile", profile_url=f"{li.base}/in/grace-hopper/")
            assert result.status == "succeeded", result
            if i:
                visits.append(time.perf_counter() - t0)
        signed_in = call(settings, "shaun", "navigate", url=f"{sheets.base}/ServiceLogin?continue=/")
        assert signed_in.status == "succeeded"
        block = [[f"r{r}c{c}" for c in range(10)] for r in range(10)]
        for i in range(n_write + 1):
            t0 = time.perf_counter()
            result = call(
                settings, "shaun", "write_range", spreadsheet="budget1", range="Sheet1!A3", values=block
            )
            assert result.status == "succeeded", result
            if i:
                writes.append(time.perf_counter() - t0)
        bulk = {name: shaun_bulk(settings, rows, cols, n_write) for name, rows, cols in BULK}
    return {"visit_profile": stats(visits), "write_verify_10x10": stats(writes), "bulk": bulk}


BULK = (("50x10", 50, 10), ("20x50", 20, 50))  # Shaun's bulk writes: rows x columns, pasted as TSV


def shaun_bulk(settings: Settings, rows: int, cols: int, n: int) -> dict[str, Any]:
    """A rows x cols block written and read back through the whole path; new values every run."""
    times = []
    for i in range(max(1, n // 2)):
        block = [[f"i{i}r{r}c{c}" for c in range(cols)] for r in range(rows)]
        t0 = time.perf_counter()
        result = call(settings, "shaun", "write_range", spreadsheet="bulk1", range="Data!A1", values=block)
        assert result.status == "succeeded" and result.result["method"] == "paste", result
        times.append(time.perf_counter() - t0)
    out = stats(times)
    out["cells_per_s"] = rows * cols / out["median"]
    return out


def profile_agent(settings: Settings, url: str, n: int) -> dict[str, Any]:
    """Where an in-process Lincoln worker's wall time goes over ``n`` navigate commands.

    Timers wrap the boundaries (Redis commands and pipelines, publishes with confirms, the browser call,
    decoding) and count only on the agent's own two threads; a tracing profiler would inflate the
    Python-heavy Redis client many times over and blur the picture.
    """
    import redis

    from zigral.agents.lincoln import Lincoln
    from zigral.broker import Publisher
    from zigral.browser import BrowserSession
    from zigral.messages import Result
    from zigral.runtime.pipeline import Pipeline
    from zigral.worker import Worker

    private = settings.model_copy(
        update={"runtime": settings.runtime.model_copy(update={"namespace": unique_namespace()})}
    )
    worker = Worker(private, Lincoln(private))
    thread = threading.Thread(target=worker.run, name="zigral-worker", daemon=True)
    spans: dict[str, float] = {}
    counting = threading.Event()
    patched: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if counting.is_set() and threading.get_ident() in (thread.ident, worker.browser_thread.ident):
                    spans[label] = spans.get(label, 0.0) + time.perf_counter() - t0

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    timed(Pipeline, "handle", "total")
    timed(BrowserSession, "run", "Playwright + Chromium (browser thread)")
    timed(redis.client.Redis, "execute_command", "Redis")
    timed(redis.client.Pipeline, "execute", "Redis")
    timed(Publisher, "_publish", "AMQP publish with confirms")
    timed(Command, "decode", "JSON / pydantic")
    timed(Result, "encode", "JSON / pydantic")
    thread.start()
    store = TaskStore.from_settings(private)
    try:
        with Client(private) as client:
            for _ in range(3):  # warm-up: attach, first tab
                client.call(Command(agent="lincoln", action="navigate", params={"url": url}), timeout=60)
            counting.set()
            ids = [
                client.submit(Command(agent="lincoln", action="navigate", params={"url": url}))
                for _ in range(n)
            ]
        wait_done(store, ids, timeout=600)
        counting.clear()
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
        worker.request_stop()
        thread.join(timeout=30)
    total = spans.pop("total", 0.0)
    parts = dict(spans)
    parts["Zigral's own code (the rest of the path)"] = max(0.0, total - sum(parts.values()))
    return {
        "commands": n,
        "handle_ms_per_command": total / n * 1000,
        "parts_ms_per_command": {k: v / n * 1000 for k, v in parts.items()},
        "shares": {k: v / total for k, v in parts.items()} if total else {},
    }


def ops_cost(settings: Settings, url: str, scrapes: int, idle_s: float) -> dict[str, Any]:
    """What watching the VM costs: the ops listener's memory and CPU per scrape and at rest; a recycle."""
    ops = psutil.Process(supervision.pid_of(settings, "ops"))

    def cpu() -> float:
        t = ops.cpu_times()
        return t.user + t.system

    base = f"http://127.0.0.1:{settings.metrics.ops_port}"

    def get(path: str) -> float:
        t0 = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=30) as resp:
            resp.read()
        return time.perf_counter() - t0

    call(settings, "lincoln", "navigate", url=url)  # a tab with a page, as in service
    get("/metrics")
    before = cpu()
    scrape = [get("/metrics") for _ in range(scrapes)]
    per_scrape_cpu = (cpu() - before) / scrapes
    status = [get("/status.json") for _ in range(scrapes)]
    before = cpu()
    time.sleep(idle_s)
    idle_cpu = (cpu() - before) / idle_s
    req = urllib.request.Request(base + "/recycle", method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as resp:
        recycled = json.load(resp)
    recycle_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    call(settings, "lincoln", "navigate", url=url)
    first_after = time.perf_counter() - t1
    return {
        "pss_mib": pss(settings, "ops") / 2**20,
        "scrape": stats(scrape),
        "cpu_ms_per_scrape": per_scrape_cpu * 1000,
        "status_json": stats(status),
        "idle_cpu_share": idle_cpu,
        # At Prometheus' 15 s interval: the share of one core the exporter takes.
        "cpu_share_at_15s": idle_cpu + per_scrape_cpu / 15,
        "recycle_s": recycle_s,
        "recycle": recycled,
        "first_command_after_recycle_s": first_after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny counts: keeps the harness working (smoke test)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--only-profile", action="store_true", help="rerun the profile into the existing results"
    )
    parser.add_argument(
        "--only-ops", action="store_true", help="rerun the ops exporter's cost into the existing results"
    )
    parser.add_argument(
        "--only-throughput",
        action="store_true",
        help="rerun the navigate overhead and the echo throughput into the existing results",
    )
    args = parser.parse_args()
    q = args.quick
    results: dict[str, Any] = {"machine": machine(), "quick": q}
    if args.only_profile or args.only_ops or args.only_throughput:
        results = json.loads((args.out / "latest.json").read_text())
        with serve() as server:
            server.page("/bench", PAGE)
            url = server.url("/bench")
            with private_stack(runtime={"allow_private": [url.split("/")[2]]}) as settings:
                if args.only_throughput:
                    probes.wait_for(lambda: probes.cdp_version(settings.browser.cdp_port), "CDP", timeout=60)
                    results["overhead"] = overhead(settings, url, 5 if q else 100)
                    results["throughput"] = throughput(settings, 20 if q else 500, 1 if q else 3)
                elif args.only_profile:
                    results["profile"] = profile_agent(settings, url, 10 if q else 200)
                else:
                    results["ops"] = ops_cost(settings, url, 5 if q else 100, 2 if q else 60)
        (args.out / "latest.json").write_text(json.dumps(results, indent=2))
        (args.out / "latest.md").write_text(render(results))
        print(render(results))
        return 0
    tmpdir = tempfile.mkdtemp(prefix="zigral-bench-")
    with serve() as server:
        server.page("/bench", PAGE)
        url = server.url("/bench")
        allow = {
            "runtime": {"allow_private": [url.split("/")[2]]},
            "display": {"width": 1920, "height": 1080},
        }
        with private_stack(**allow) as settings:  # type: ignore[arg-type]
            probes.wait_for(lambda: probes.cdp_version(settings.browser.cdp_port), "CDP", timeout=60)
            print("1/9 overhead", flush=True)
            results["overhead"] = overhead(settings, url, 5 if q else 100)
            print("2/9 throughput", flush=True)
            results["throughput"] = throughput(settings, 20 if q else 500, 1 if q else 3)
            print("5/9 memory", flush=True)
            results["memory"] = memory(settings, url, 20 if q else 1000)
            print("6/9 captures", flush=True)
            results["captures"] = capture_cost(settings, url, 3 if q else 20, settings.captures.dir)
            print("6b/9 egress proxy hop", flush=True)
            results["egress"] = proxy_hop(settings, url, 5 if q else 100)
            print("7/9 scale", flush=True)
            results["scale"] = scale(settings, url, [10] if q else [100, 1000, 10000], 10 if q else 200)
            print("4/9 recovery", flush=True)
            results["recovery"] = recovery(settings, url, 1 if q else 5)
            print("9/9 profile", flush=True)
            results["profile"] = profile_agent(settings, url, 10 if q else 200)
            print("9b/9 ops exporter", flush=True)
            results["ops"] = ops_cost(settings, url, 5 if q else 100, 2 if q else 60)
        print("3/9 cold start", flush=True)
        results["cold_start"] = cold_start(url, 1 if q else 3)
    print("8/9 site agents", flush=True)
    site = LinkedInSite()
    sheets = SheetsSite()
    with serve() as li_server, serve() as sheets_server:
        site.install(li_server)
        sheets.install(sheets_server)
        results["site_agents"] = site_agents(
            li_server, sheets_server, 3 if q else 30, 1 if q else 10, Path(tmpdir)
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2))
    (args.out / "latest.md").write_text(render(results))
    print(render(results))
    return 0


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Zigral benchmark results" + (" (quick smoke run, not representative)" if r.get("quick") else ""),
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}, kernel {m['kernel']}, "
        f"Python {m['python']}, {m['chromium']}, RabbitMQ {m['rabbitmq']}, {m['redis']}; {m['date']}.",
        "",
        "| figure | Zigral | baseline | ratio |",
        "|---|---|---|---|",
    ]
    o = r["overhead"]
    lines.append(
        f"| navigate + title, per command | {ms(o['zigral'])} | direct Playwright {ms(o['direct'])} | "
        f"{o['ratio']:.2f}x (+{o['added_ms']:.1f} ms) |"
    )
    t = r["throughput"]
    lines.append(
        f"| echo throughput, durable, prefetch 1 | {t['zigral_median']:.0f}/s | dramatiq "
        f"{t['dramatiq_median']:.0f}/s | {t['ratio']:.2f}x |"
    )
    if "zigral_cpu_ms_per_command" in t:
        zc, dc = t["zigral_cpu_ms_per_command"], t["dramatiq_cpu_ms_per_command"]
        lines.append(
            f"| worker CPU per echo (load hardly moves it) | {zc:.2f} ms | dramatiq {dc:.2f} ms "
            f"| {dc / zc:.2f}x |"
        )
    c = r["cold_start"]
    lines.append(f"| cold start to doctor green | {c['ready']['median']:.1f} s (n={c['ready']['n']}) | | |")
    lines.append(f"| cold start to first command | {c['first_command']['median']:.1f} s | | |")
    rc = r["recovery"]
    lines.append(
        f"| Chromium SIGKILL to next command | {rc['chromium_kill']['median']:.2f} s "
        f"(p95 {rc['chromium_kill']['p95']:.2f}) | | |"
    )
    lines.append(
        f"| RabbitMQ stop_app/start_app to next command | {rc['rabbitmq_restart_total']['median']:.1f} s "
        f"total, {rc['rabbitmq_after_start_app']['median']:.1f} s after start_app | | |"
    )
    mem = r["memory"]
    lines.append(
        f"| PSS of the stack, idle | {mem['idle_total_mib']:.0f} MiB | after {mem['commands']} commands "
        f"{mem['after_total_mib']:.0f} MiB | {mem['after_total_mib'] / mem['idle_total_mib']:.2f}x |"
    )
    e = r["egress"]
    lines.append(
        f"| page load through the egress proxy | {ms(e['proxied'])} | direct {ms(e['direct'])} | "
        f"{e['ratio']:.2f}x (+{e['added_ms']:.1f} ms) |"
    )
    cap = r["captures"]["screenshot_plus_html"]
    lines.append(f"| 1920x1080 screenshot + HTML snapshot | {ms(cap)} | | |")
    for size, b in r["scale"]["backlog"].items():
        lines.append(
            f"| drain a backlog of {size} echo commands | {b['drain_per_s']:.0f}/s, queue-to-done median "
            f"{b['queue_to_done']['median']:.2f} s, run {b['run']['median'] * 1000:.1f} ms | | |"
        )
    s = r["scale"]
    lines.append(
        f"| navigate throughput, both agents on one Chromium | {s['navigate_two_agents_per_s']:.1f}/s | one "
        f"agent {s['navigate_one_agent_per_s']:.1f}/s | "
        f"{s['navigate_two_agents_per_s'] / s['navigate_one_agent_per_s']:.2f}x |"
    )
    sa = r["site_agents"]
    lines.append(f"| Lincoln visit_profile on the fixture | {ms(sa['visit_profile'])} | | |")
    lines.append(
        f"| Shaun write + verify a 10x10 block on the fixture | {ms(sa['write_verify_10x10'])} | | |"
    )
    for name, b in sa.get("bulk", {}).items():
        lines.append(
            f"| Shaun write + verify a {name} block (pasted) on the fixture | {ms(b)}, "
            f"{b['cells_per_s']:.0f} cells/s | target 50x10 < 10 s, >= 100 cells/s | |"
        )
    if "ops" in r:
        op = r["ops"]
        lines.append(
            f"| ops exporter: one /metrics scrape | {ms(op['scrape'])}, "
            f"{op['cpu_ms_per_scrape']:.1f} ms CPU | | |"
        )
        lines.append(
            f"| ops exporter: memory, CPU at a 15 s scrape interval | {op['pss_mib']:.0f} MiB PSS, "
            f"{op['cpu_share_at_15s'] * 100:.2f}% of a core ({op['idle_cpu_share'] * 100:.2f}% at rest) | | |"
        )
        lines.append(f"| status page data (/status.json) | {ms(op['status_json'])} | | |")
        rec = op["recycle"]
        lines.append(
            f"| Chromium recycle at a safe point, idle agents | {op['recycle_s']:.1f} s (drain "
            f"{rec['drained_in']:.1f} s, restart {rec['restarted_in']:.1f} s); next command "
            f"{op['first_command_after_recycle_s']:.2f} s | | |"
        )
    p = r["profile"]
    lines += [
        "",
        f"Where the time goes in the agent's path (wall clock, {p['commands']} navigate commands, "
        f"{p['handle_ms_per_command']:.1f} ms per command from delivery to ack):",
        "",
    ]
    for part, value in p["parts_ms_per_command"].items():
        lines.append(f"- {part}: {value:.2f} ms ({p['shares'].get(part, 0) * 100:.0f}%)")
    lines += ["", "PSS per program (MiB), idle -> after:", ""]
    for name in PROGRAMS:
        if name in mem["idle_mib"]:  # results from before a program existed lack it
            lines.append(f"- {name}: {mem['idle_mib'][name]:.0f} -> {mem['after_mib'][name]:.0f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
