"""The whole VM under watch: a real Prometheus scraping the ops exporter, supervisor events, the status
page in a real browser through nginx, a Chromium recycle in the middle of a stream of commands, and a
session canary on a signed-out site."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from zigral import broker
from zigral.client import Client
from zigral.config import REPO_ROOT, load_settings
from zigral.constants import Names
from zigral.doctor import web_tls
from zigral.launch import CHROMIUM_QUIET_FLAGS
from zigral.messages import Command
from zigral.state import TaskStore
from zigral.testing.server import FixtureServer, serve

from .conftest import Stack, booted_stack, eventually, free_port, require, services_available
from .sheets_site import SheetsSite
from .test_metrics import scrape
from .test_stack import is_blank

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with serve() as server:
        for i in range(40):
            server.page(f"/page/{i}", f"<title>page {i}</title><h1>Page {i}</h1>")
        server.page(
            "/keep",
            "<title>kept</title>",
            headers={"Set-Cookie": "keep=across-recycles; Max-Age=86400; Path=/"},
        )
        server.routes["/cookie"] = lambda req: (
            200,
            {"Content-Type": "text/html"},
            f"<title>cookie {req.headers.get('Cookie', '')}</title>".encode(),
        )
        yield server


@pytest.fixture(scope="module")
def stack(site: FixtureServer) -> Iterator[Stack]:
    services_available(load_settings())
    with booted_stack(runtime={"allow_private": [site.base.removeprefix("http://")]}) as s:
        yield s


def ops_metrics(stack: Stack) -> dict[str, float]:
    return scrape(stack.settings.metrics.ops_port)


def status_json(stack: Stack) -> dict[str, Any]:
    url = f"http://127.0.0.1:{stack.settings.metrics.ops_port}/status.json"
    with urllib.request.urlopen(url, timeout=10) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


def call(stack: Stack, agent: str, action: str, **params: Any) -> Any:
    with Client(stack.settings) as client:
        return client.call(Command(agent=agent, action=action, params=params), timeout=120)


# ---------------------------------------------------------------------- Prometheus
class Prometheus:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, **query: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)["data"]

    def value(self, expr: str) -> float | None:
        result = self.get("/api/v1/query", query=expr)["result"]
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[Prometheus]:
    """A real Prometheus with deploy/prometheus.yml, pointed at this stack's ports, scraping every second."""
    require("prometheus", shutil.which("prometheus") is not None)
    s = stack.settings
    config = (REPO_ROOT / "deploy" / "prometheus.yml").read_text()
    config = config.replace("127.0.0.1:9103", f"127.0.0.1:{s.metrics.ops_port}")
    config = config.replace("/run/zigral/prometheus-agents.json", str(s.paths.prometheus_targets))
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s")
    config = config.replace("prometheus/alerts.yml", str(REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"))
    (tmp_path / "prometheus.yml").write_text(config)
    check = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Prometheus(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_prometheus_scrapes_every_target_and_sees_a_stopped_program(
    stack: Stack, prometheus: Prometheus
) -> None:
    def all_up() -> bool:
        try:
            targets = prometheus.get("/api/v1/targets")["activeTargets"]
        except OSError:
            return False
        return len(targets) == 3 and all(t["health"] == "up" for t in targets)

    eventually(all_up, "the agents' and the ops exporter's targets are up")
    assert len(prometheus.get("/api/v1/rules")["groups"]) == 3  # the alert rules are loaded
    up = 'zigral_program_up{program="websockify"}'
    eventually(lambda: prometheus.value(up) == 1, "websockify RUNNING in Prometheus")
    chromium_pss = prometheus.value('zigral_program_memory_pss_bytes{program="chromium"}')
    assert chromium_pss is not None and chromium_pss > 50 * 2**20
    stack.ctl("stop", "websockify")
    try:
        eventually(lambda: prometheus.value(up) == 0, "websockify down in Prometheus")
        state = 'zigral_program_state{program="websockify",state="STOPPED"}'
        assert prometheus.value(state) == 1
        assert prometheus.value('zigral_program_memory_pss_bytes{program="websockify"}') is None
    finally:
        stack.ctl("start", "websockify")
    eventually(lambda: prometheus.value(up) == 1, "websockify back in Prometheus")
    restarts = prometheus.value('zigral_program_restarts_total{program="websockify"}')
    assert restarts == 1


def test_the_exporter_reads_the_browser_disks_queues_and_heartbeats(stack: Stack) -> None:
    ns = stack.settings.runtime.namespace
    refused = f"http://127.0.0.1:{stack.settings.vnc.port}/"
    call(stack, "shaun", "navigate", url=refused)  # a stack port: rejected, one dead letter
    dead = f"zigral_queue_messages_ready{{queue={ns}.dead}}"
    # The management API refreshes its queue figures every 5 s.
    m = eventually(lambda: (got := ops_metrics(stack)).get(dead) == 1 and got, "the dead letter counted", 30)
    assert m["zigral_browser_up{}"] == 1
    assert m["zigral_browser_tabs{}"] >= 1
    assert m["zigral_browser_renderer_processes{}"] >= 1
    assert m["zigral_browser_js_heap_used_bytes{}"] > 0
    assert m["zigral_browser_dom_nodes{}"] > 0
    assert m["zigral_agent_heartbeats{agent=lincoln}"] == 1
    assert m["zigral_filesystem_free_bytes{mount=/dev/shm}"] > 0
    assert m["zigral_memory_available_bytes{}"] > 0
    assert m[f"zigral_queue_consumers{{queue={ns}.shaun}}"] == 1
    if m["zigral_queue_stats_source{source=management}"] == 1:
        assert m[f"zigral_queue_messages_unacked{{queue={ns}.shaun}}"] == 0
        assert m[f"zigral_queue_head_age_seconds{{queue={ns}.shaun}}"] == 0
    assert m["zigral_program_cpu_seconds_total{program=chromium}"] > 0


def test_a_vnc_viewer_is_counted_with_the_bytes_it_is_sent(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.settings.vnc.port), timeout=5) as sock:
        assert sock.recv(12).startswith(b"RFB ")
        m = ops_metrics(stack)
        assert m["zigral_vnc_clients{}"] == 1
        assert m["zigral_vnc_sent_bytes_total{}"] >= 12
    eventually(lambda: ops_metrics(stack)["zigral_vnc_clients{}"] == 0, "the viewer gone")


# ---------------------------------------------------------------------- the status page
def test_the_status_page_renders_every_section_through_nginx(
    stack: Stack, site: FixtureServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    s = stack.settings
    with Client(s) as client:
        done = client.call(
            Command(agent="lincoln", action="navigate", params={"url": site.url("/page/1")}, capture=True),
            120,
        )
    assert done.status == "succeeded" and any(p.endswith(".png") for p in done.captures)
    with sync_playwright() as pw:
        viewer = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS]
        )
        page = viewer.new_page(
            http_credentials={"username": s.web.user, "password": stack.web_auth[1]},
            ignore_https_errors=True,  # the stack's self-signed certificate
            viewport={"width": 1600, "height": 1000},
        )
        page.goto(f"https://127.0.0.1:{s.web.port}/status/")
        page.locator("#programs tbody tr").nth(9).wait_for()
        page.locator("#recent").get_by_role("cell", name=done.id, exact=True).wait_for()
        programs = page.locator("#programs tbody").inner_text()
        for name in ("xvfb", "chromium", "nginx", "agents:lincoln", "agents:shaun", "ops"):
            assert name in programs
        assert "FATAL" not in programs
        agents = page.locator("#agents tbody").inner_text()
        assert "lincoln" in agents and "shaun" in agents
        assert page.locator("#dlq").inner_text().strip().isdigit()
        thumb = page.locator(f'#recent img[alt="last capture of {done.id}"]')
        thumb.wait_for()
        assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
        # The embedded live view: signed in once (nginx), the operator sees the desktop.
        frame = page.frame_locator("#novnc")
        if stack.settings.vnc.password:  # ZIGRAL_VNC__PASSWORD=true: x11vnc asks its own password too
            frame.locator("#noVNC_password_input").fill(stack.vnc_password)
            frame.locator("#noVNC_credentials_button").click()
        canvas = frame.locator("#noVNC_container canvas")
        canvas.wait_for(state="visible")
        frame.locator("#noVNC_credentials_dlg:not(.noVNC_open)").wait_for(state="attached")
        deadline = time.monotonic() + 20
        while is_blank(shot := canvas.screenshot()) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.5)  # the dialog and the status bar fade out
        out = tmp_path_factory.getbasetemp() / "status-page.png"
        page.screenshot(path=str(out))
        viewer.close()
    assert not is_blank(shot), f"the live view stayed blank (page screenshot: {out})"
    # The page is behind the same basic auth as everything else.
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"https://127.0.0.1:{s.web.port}/status.json", timeout=5, context=web_tls(s))
    assert denied.value.code == 401
    denied.value.close()


SCREENS = {  # name: (width, height, a phone)
    "1920": (1920, 1080, False),
    "1280": (1280, 800, False),
    "800": (800, 1000, False),
    "phone": (390, 844, True),
}
_LAYOUT_JS = """() => {
  const inside = el => { const r = el.getBoundingClientRect();
    const box = (el.closest("section") || document.body).getBoundingClientRect();
    return r.width > 0 && r.left >= box.left - 0.5 && r.right <= Math.min(box.right, innerWidth) + 0.5; };
  const cells = Array.from(document.querySelectorAll("#recent tbody tr"), tr => Array.from(tr.cells));
  const sections = Array.from(document.querySelectorAll("section"), s => s.getBoundingClientRect());
  return {
    innerWidth, scrollWidth: document.scrollingElement.scrollWidth,
    hiddenCells: cells.flat().filter(c => !inside(c)).map(c => c.textContent || c.innerHTML).slice(0, 5),
    columns: cells.map(row => row.length),
    clippedSections: Array.from(document.querySelectorAll("section"))
      .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.id),
    liveViewInside: inside(document.getElementById("novnc")),
    lefts: [...new Set(sections.map(r => Math.round(r.left)))],
    mainColumns: getComputedStyle(document.querySelector("main")).gridTemplateColumns.split(" ").length,
  };
}"""


def test_the_status_page_fits_1920_1280_800_px_and_a_phone_with_every_recent_column_visible(
    stack: Stack, site: FixtureServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    s = stack.settings
    long_id = "import-2026-11-29-linkedin-connect-batch-0042-" + "f" * 40  # ids may be 128 characters
    with Client(s) as client:
        shot = client.call(
            Command(agent="lincoln", action="navigate", params={"url": site.url("/page/2")}, capture=True),
            120,
        )
        client.call(
            Command(id=long_id, agent="shaun", action="navigate", params={"url": site.url("/page/3")}), 120
        )
        failed = client.call(
            Command(agent="lincoln", action="click", params={"selector": "#absent"}, timeout=3), 120
        )
    assert shot.status == "succeeded" and failed.status != "succeeded"
    problems: dict[str, Any] = {}
    with sync_playwright() as pw:
        viewer = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", *CHROMIUM_QUIET_FLAGS]
        )
        for name, (width, height, phone) in SCREENS.items():
            context = viewer.new_context(
                http_credentials={"username": s.web.user, "password": stack.web_auth[1]},
                ignore_https_errors=True,  # the stack's self-signed certificate
                viewport={"width": width, "height": height},
                is_mobile=phone,
                has_touch=phone,
                device_scale_factor=2 if phone else 1,
            )
            page = context.new_page()
            page.goto(f"https://127.0.0.1:{s.web.port}/status/")
            for task in (shot.id, long_id, failed.id):
                page.locator("#recent").get_by_role("cell", name=task, exact=True).wait_for()
            page.locator(f'#recent img[alt="last capture of {shot.id}"]').wait_for()
            page.wait_for_timeout(300)  # the thumbnail decodes
            layout = page.evaluate(_LAYOUT_JS)
            page.screenshot(path=str(tmp_path_factory.getbasetemp() / f"status-{name}.png"), full_page=True)
            context.close()
            wrong = []
            if layout["innerWidth"] != width:
                wrong.append(f"laid out {layout['innerWidth']} px wide (no mobile viewport)")
            if layout["scrollWidth"] > layout["innerWidth"]:
                wrong.append(f"scrolls sideways: {layout['scrollWidth']} > {layout['innerWidth']} px")
            if set(layout["columns"]) != {5}:
                wrong.append(f"recent tasks rows with {layout['columns']} cells, not 5")
            if layout["hiddenCells"]:
                wrong.append(f"recent tasks cells cut off: {layout['hiddenCells']}")
            if layout["clippedSections"]:
                wrong.append(f"sections clip their content: {layout['clippedSections']}")
            if not layout["liveViewInside"]:
                wrong.append("the live view runs off the screen")
            if width <= 800 and layout["mainColumns"] != 1:
                wrong.append("the live view beside the tables, not below them")
            if phone and len(layout["lefts"]) != 1:
                wrong.append(f"cards side by side (left edges {layout['lefts']}), not stacked")
            if wrong:
                problems[name] = wrong
        viewer.close()
    assert problems == {}, f"screenshots in {tmp_path_factory.getbasetemp()}"


def test_the_status_shows_a_browser_command_while_it_runs_and_idle_right_after() -> None:
    services_available(load_settings())
    # Heartbeats every 60 s: only the beats at a browser command's start and end can show it in time.
    with booted_stack(runtime={"heartbeat_interval": 60}) as stack:

        def lincoln() -> dict[str, Any]:
            return next((a for a in status_json(stack)["agents"] if a["agent"] == "lincoln"), {})

        eventually(lincoln, "lincoln's first heartbeat")
        task_id = f"beat-{time.time_ns()}"
        with Client(stack.settings) as client:
            client.submit(
                Command(id=task_id, agent="lincoln", action="sleep", params={"seconds": 4}, timeout=60)
            )
        eventually(lambda: lincoln().get("task") == task_id, "the command in flight on the status page", 4)
        eventually(lambda: lincoln().get("task") is None, "lincoln idle again", 15)


# ---------------------------------------------------------------------- recycling
def test_a_forced_recycle_in_a_stream_of_commands_loses_none_and_keeps_the_profile(
    stack: Stack, site: FixtureServer
) -> None:
    s = stack.settings
    assert call(stack, "lincoln", "navigate", url=site.url("/keep")).status == "succeeded"
    chromium_before = stack.pid("chromium")
    ids: list[str] = []
    with Client(s) as client:
        for i in range(30):
            agent = ("lincoln", "shaun")[i % 2]
            ids.append(
                client.submit(
                    Command(agent=agent, action="navigate", params={"url": site.url(f"/page/{i}")}),
                    want_reply=True,
                )
            )
        results = {}
        for task_id in ids[:4]:
            results[task_id] = client.wait(task_id, 120)
        recycled: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: recycled.update(done=stack.zigral("recycle")))
        worker.start()
        for task_id in ids[4:]:
            results[task_id] = client.wait(task_id, 180)
        worker.join(timeout=180)
    done = recycled["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["done"] is True
    assert stack.pid("chromium") != chromium_before
    failures = [(r.id, r.status, r.error) for r in results.values() if r.status != "succeeded"]
    assert not failures, failures
    store = TaskStore.from_settings(s)
    assert [store.get(i)["attempts"] for i in ids] == [1] * 30  # none failed, none was retried
    m = ops_metrics(stack)
    assert m["zigral_browser_recycles_total{reason=forced}"] == 1
    assert m["zigral_browser_commands_since_start{}"] < 30
    kept = call(stack, "shaun", "navigate", url=site.url("/cookie"))
    assert kept.result["title"] == "cookie keep=across-recycles"
    assert "recycle (forced) done" in stack.log("ops")


def test_chromium_is_recycled_by_itself_past_its_command_threshold(site: FixtureServer) -> None:
    with booted_stack(
        runtime={"allow_private": [site.base.removeprefix("http://")]},
        ops={"recycle_max_commands": 5, "recycle_check_interval": 5},
    ) as stack:
        before = stack.pid("chromium")
        for i in range(6):
            assert call(stack, "lincoln", "navigate", url=site.url(f"/page/{i}")).status == "succeeded"
        eventually(
            lambda: ops_metrics(stack).get("zigral_browser_recycles_total{reason=commands}") == 1,
            "a recycle for the command count",
        )
        assert stack.pid("chromium") != before
        assert ops_metrics(stack)["zigral_browser_commands_since_start{}"] == 0
        assert call(stack, "lincoln", "navigate", url=site.url("/page/7")).status == "succeeded"


# ---------------------------------------------------------------------- supervisor events
def test_a_program_that_cannot_start_is_reported_fatal_with_an_alert_line(stack: Stack) -> None:
    s = stack.settings
    stack.ctl("stop", "websockify")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", s.web.websockify_port))
    squatter.listen()
    try:
        stack.ctl("start", "websockify")  # websockify cannot bind its port: BACKOFF, then FATAL
        eventually(lambda: stack.states()["websockify"] == "FATAL", "websockify FATAL", 90)
        m = eventually(
            lambda: (
                (got := ops_metrics(stack)).get("zigral_program_state{program=websockify,state=FATAL}") == 1
                and got
            ),
            "the FATAL state in the metrics",
        )
        assert m["zigral_program_up{program=websockify}"] == 0
        assert m["zigral_program_unexpected_exits_total{program=websockify}"] >= 3
        assert "ALERT program websockify is FATAL" in stack.log("ops")
        alerts = status_json(stack)["alerts"]
        assert "program websockify is FATAL: supervisor gave up starting it" in alerts
    finally:
        squatter.close()
        stack.ctl("start", "websockify")
    eventually(lambda: stack.states()["websockify"] == "RUNNING", "websockify back")


# ---------------------------------------------------------------------- session canaries
def test_a_signed_out_site_raises_the_event_holds_commands_and_resumes_after_sign_in() -> None:
    sheets = SheetsSite(auto_sign_in=False)
    with serve() as server:
        sheets.install(server)
        base = server.base
        with booted_stack(
            runtime={"allow_private": [base.removeprefix("http://")], "heartbeat_interval": 1.0},
            shaun={"base_url": base, "keystroke_delay_ms": 0},
            ops={"canary_interval": 2},
        ) as stack:
            s = stack.settings
            names = Names(s.runtime.namespace)
            conn = broker.connect(s)
            ch = conn.channel()
            broker.declare_topology(ch, names, s.enabled_agents())
            events = str(ch.queue_declare("", exclusive=True).method.queue)
            ch.queue_bind(events, names.events_exchange, routing_key="agent.shaun.*")

            def next_event(kind: str) -> dict[str, Any]:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    method, _props, body = ch.basic_get(events, auto_ack=True)
                    if method is None:
                        conn.sleep(0.5)
                        continue
                    event: dict[str, Any] = json.loads(body)
                    if event["event"] == kind:
                        return event
                raise AssertionError(f"no agent.shaun.{kind} event")

            needs = next_event("needs_human")
            assert needs["vm_id"] == s.vm_id and "signed out" in needs["reason"]
            m = scrape(s.metrics_port("shaun"))
            assert m["zigral_agent_needs_human{agent=shaun}"] == 1
            assert m["zigral_site_logged_in{agent=shaun}"] == 0
            with Client(s) as client:
                task = client.submit(
                    Command(
                        agent="shaun",
                        action="read_range",
                        params={"spreadsheet": "budget1", "range": "A1:B2"},
                    ),
                    want_reply=True,
                )
                time.sleep(5)  # held in the queue: neither run nor failed
                assert TaskStore.from_settings(s).get(task) is None
                human = status_json(stack)["agents"]
                assert any(a["agent"] == "shaun" and a["needs_human"] for a in human)
                # A person signs in through the remote view (here: the cookie Google would set).
                with sync_playwright() as pw:
                    browser = pw.chromium.connect_over_cdp(s.cdp_url)
                    browser.contexts[0].add_cookies([{"name": "SID", "value": "signed-in", "url": base}])
                back = next_event("session_ok")
                assert back["account"] == "Test Operator"
                result = client.wait(task, 120)
            assert result.status == "succeeded", result
            assert result.result["rows"][0] == ["Name", "Amount"]
            assert scrape(s.metrics_port("shaun"))["zigral_agent_needs_human{agent=shaun}"] == 0

            # Signed out again; an operator releases the agent by hand to send it a command meanwhile.
            with sync_playwright() as pw:
                pw.chromium.connect_over_cdp(s.cdp_url).contexts[0].clear_cookies()
            next_event("needs_human")
            with Client(s) as client:
                check = client.submit(Command(agent="shaun", action="check_session"), want_reply=True)
                time.sleep(3)
                assert TaskStore.from_settings(s).get(check) is None  # held
                resumed = stack.zigral("resume", "shaun")
                assert resumed.returncode == 0, resumed.stderr
                answer = client.wait(check, 60)
            assert answer.status == "succeeded" and answer.result == {"logged_in": False}
            conn.close()
