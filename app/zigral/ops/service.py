"""``zigral ops``: the supervisor event listener that watches the whole VM.

The main thread speaks supervisor's listener protocol on stdin/stdout and tracks every program from its
PROCESS_STATE events (no polling). A loopback HTTP server thread answers ``/metrics`` (Prometheus),
``/status.json`` (the status page, proxied by nginx) and ``POST /recycle`` (``zigral recycle``). On TICK
events it checks whether Chromium should be recycled and, if so, recycles it in a worker thread.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import threading
import time
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from zigral import peers, state, supervision
from zigral.config import Settings
from zigral.errors import StateError
from zigral.ops.events import ProgramTracker, Protocol
from zigral.ops.exporter import OpsCollector
from zigral.ops.recycle import Recycler, RecycleResult
from zigral.ops.resources import tree_usage
from zigral.ops.status import status

log = logging.getLogger(__name__)
CONTROL_UIDS = frozenset({0})  # who may POST: root, as `zigral recycle` and the stack itself run


class OpsService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.tracker = ProgramTracker(settings.ops.crash_loop_restarts, settings.ops.crash_loop_window)
        self.store = state.TaskStore.from_settings(settings)
        self.recycler = Recycler(settings, self.store.client)
        self.collector = OpsCollector(settings, self.tracker, self.lock, self.recycler)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._recycling = threading.Lock()
        self._scraping = threading.Lock()
        self._last_check = 0.0

    # ------------------------------------------------------------------ figures
    def metrics(self) -> bytes:
        with self._scraping:  # one scrape at a time: the VNC byte counter keeps per-connection state
            return generate_latest(self.registry)

    def status(self) -> dict[str, Any]:
        extra = {
            "browser": self.collector.last.get("browser"),
            "vnc_clients": self.collector.last.get("vnc_clients"),
        }
        try:
            extra["recycling"] = self.recycler.under_way()
        except (redis.RedisError, StateError):
            extra["recycling"] = None
        return status(self.settings, self.tracker, self.lock, self.store, extra)

    # ------------------------------------------------------------------ recycling
    def recycle(self, reason: str) -> RecycleResult:
        if not self._recycling.acquire(blocking=False):
            return RecycleResult(False, reason, "a recycle is already under way")
        try:
            result = self.recycler.recycle(reason)
            if result.done:
                self.collector.recycles[reason] = self.collector.recycles.get(reason, 0) + 1
            return result
        except (redis.RedisError, StateError) as exc:
            log.error("recycle (%s) failed: Redis: %s", reason, exc)
            return RecycleResult(False, reason, f"Redis: {exc}")
        finally:
            self._recycling.release()

    def on_tick(self) -> None:
        """Recycle in the background if a threshold is passed (never blocks the event loop)."""
        if (
            self._recycling.locked()
            or time.monotonic() - self._last_check < self.settings.ops.recycle_check_interval
        ):
            return
        self._last_check = time.monotonic()
        pid = self.tracker.programs.get("chromium")
        try:
            usage = tree_usage(pid.pid) if pid is not None and pid.pid else None
            reason = self.recycler.due(usage.pss_bytes if usage else None)
        except (redis.RedisError, StateError) as exc:
            log.warning("recycle check skipped: Redis: %s", exc)
            return
        if reason is not None:
            threading.Thread(target=self.recycle, args=(reason,), name="recycle", daemon=True).start()

    def on_program_state(self, name: str) -> None:
        program = self.tracker.programs[name]
        if name == "chromium" and program.state == "RUNNING":
            try:
                self.recycler.reset_command_count()
            except (redis.RedisError, StateError) as exc:
                log.warning("could not reset the browser command count: %s", exc)

    # ------------------------------------------------------------------ running
    def serve_http(self) -> ThreadingHTTPServer:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, service.metrics(), CONTENT_TYPE_LATEST)
                elif self.path == "/status.json":
                    self._send(200, json.dumps(service.status()).encode(), "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def do_POST(self) -> None:
                if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                    # metrics.bind may be opened for a remote Prometheus; control stays local
                    self._send(403, b"control is allowed from this VM only\n", "text/plain")
                    return
                if not peers.uid_allowed(self.connection, CONTROL_UIDS):
                    # any local user reaches loopback: only root (zigral recycle, the stack) may control
                    self._send(403, b"control is allowed to root only\n", "text/plain")
                    return
                if self.path != "/recycle":
                    self._send(404, b"not found\n", "text/plain")
                    return
                result = service.recycle("forced")
                self._send(
                    200 if result.done else 409, json.dumps(result.__dict__).encode(), "application/json"
                )

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        server = ThreadingHTTPServer((self.settings.metrics.bind, self.settings.metrics.ops_port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
        return server

    def seed(self) -> None:
        try:
            infos = supervision.call(self.settings, "getAllProcessInfo")
        except (OSError, xmlrpc.client.Error) as exc:
            log.warning("could not read the programs' states at start: %s", exc)
            return
        with self.lock:
            self.tracker.seed(infos)

    def run(self) -> int:
        self.seed()
        server = self.serve_http()
        log.info(
            "ops listening on %s:%d (/metrics, /status.json)",
            self.settings.metrics.bind,
            self.settings.metrics.ops_port,
        )
        protocol = Protocol(sys.stdin.buffer, sys.stdout.buffer)
        try:
            while (event := protocol.next()) is not None:
                try:
                    with self.lock:
                        name = self.tracker.handle(event)
                    if name is not None:
                        self.on_program_state(name)
                    elif event.name.startswith("TICK"):
                        self.on_tick()
                except Exception:  # an event we cannot digest must not kill the listener
                    log.exception("event %s not handled", event.name)
                protocol.ok()
        finally:
            server.shutdown()
        return 0
