"""The ops exporter's Prometheus collector: every figure is read when Prometheus scrapes, not polled."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import redis
from prometheus_client.core import Metric

from zigral import fleet
from zigral.config import Settings
from zigral.constants import Names
from zigral.errors import StateError, ZigralError
from zigral.metrics import OPS_FAMILIES
from zigral.ops import browserstats, queues, remoteview, resources
from zigral.ops.events import STATES, ProgramTracker
from zigral.ops.recycle import Recycler

log = logging.getLogger(__name__)


class OpsCollector:
    """Builds the ``OPS_FAMILIES`` metrics; the service counts ``recycles`` as it does them."""

    def __init__(
        self, settings: Settings, tracker: ProgramTracker, lock: threading.Lock, recycler: Recycler
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.lock = lock  # guards the tracker, which the event loop updates
        self.recycler = recycler
        self.names = Names(settings.runtime.namespace)
        self.sent = remoteview.SentCounter()
        self.recycles: dict[str, int] = {}
        self.last: dict[str, Any] = {}  # the latest browser and viewer figures, for the status page

    def _commands_since_start(self) -> int | None:
        try:
            return self.recycler.commands_since_start()
        except (redis.RedisError, StateError):
            return None

    def _heartbeats(self) -> dict[str, int] | None:
        """Live workers of each agent on this VM, from their heartbeat keys (None if Redis is down)."""
        try:
            keys = self.recycler.live_workers()
        except (redis.RedisError, StateError):
            return None
        counts: dict[str, int] = {}
        for key in keys:
            agent = self.names.heartbeat_agent(key)
            counts[agent] = counts.get(agent, 0) + 1
        return counts

    def queue_names(self) -> list[str]:
        return [
            *(self.names.agent_queue(a) for a in self.settings.enabled_agents()),
            self.names.dead_letter_queue,
        ]

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        fams = {name: family.new() for name, family in OPS_FAMILIES.items()}

        def add(name: str, value: float, *labels: str) -> None:
            fams[name].add_metric(list(labels), value)

        # processes
        now = time.time()
        with self.lock:
            self.tracker.refresh(now)
            programs = [
                (p.name, p.state, p.since, p.pid, p.restarts, p.unexpected_exits, p.crash_looping)
                for p in self.tracker.programs.values()
            ]
        table = resources.children_table()
        for name, state, since, pid, restarts, exits, looping in programs:
            add("zigral_program_up", 1 if state == "RUNNING" else 0, name)
            for s in STATES:
                add("zigral_program_state", 1 if s == state else 0, name, s)
            add("zigral_program_state_seconds", max(0.0, now - since), name)
            add("zigral_program_restarts_total", restarts, name)
            add("zigral_program_unexpected_exits_total", exits, name)
            add("zigral_program_crash_looping", 1 if looping else 0, name)
            alive = pid and state in ("RUNNING", "STARTING", "STOPPING")
            usage = resources.tree_usage(pid, table) if alive else None
            if usage is not None:
                add("zigral_program_memory_pss_bytes", usage.pss_bytes, name)
                add("zigral_program_cpu_seconds_total", usage.cpu_seconds, name)
                add("zigral_program_processes", usage.processes, name)
                if name == "chromium":
                    add("zigral_browser_renderer_processes", usage.renderers)

        # disks
        disks = {
            "/dev/shm": Path("/dev/shm"),
            "state": self.settings.paths.state_dir,
            "captures": self.settings.captures.dir,
        }
        for label, (size, free) in resources.filesystems(disks).items():
            add("zigral_filesystem_size_bytes", size, label)
            add("zigral_filesystem_free_bytes", free, label)
        add("zigral_captures_bytes", resources.directory_bytes(self.settings.captures.dir))
        memory = psutil.virtual_memory()
        add("zigral_memory_total_bytes", memory.total)
        add("zigral_memory_available_bytes", memory.available)

        # agents' heartbeats on this VM
        beats = self._heartbeats()
        if beats is not None:
            for agent in self.settings.enabled_agents():
                add("zigral_agent_heartbeats", beats.get(agent, 0), agent)

        # browser
        b = browserstats.browser_stats(self.settings.browser.cdp_port)
        add("zigral_browser_up", 1 if b.up else 0)
        if b.up:
            add("zigral_browser_tabs", b.tabs)
            add("zigral_browser_js_heap_used_bytes", b.js_heap_used)
            add("zigral_browser_dom_nodes", b.dom_nodes)
        self.last["browser"] = b.__dict__
        since_start = self._commands_since_start()
        if since_start is not None:
            add("zigral_browser_commands_since_start", since_start)
        for reason, n in sorted(self.recycles.items()):
            add("zigral_browser_recycles_total", n, reason)

        # remote view
        conns = remoteview.vnc_connections(self.settings.vnc.port)
        add("zigral_vnc_clients", len(conns))
        add("zigral_vnc_sent_bytes_total", self.sent.update(conns))
        self.last["vnc_clients"] = len(conns)

        # queues
        try:
            source, stats = queues.queue_stats(self.settings, self.queue_names())
        except ZigralError as exc:
            log.warning("no queue figures: %s", exc)
            source, stats = "none", []
        for s in ("management", "amqp"):
            add("zigral_queue_stats_source", 1 if s == source else 0, s)
        if source == "management":  # the fleet's account and VM queues (every VM's): one request
            try:
                stats += queues.matching_from_management(self.settings, fleet.addressed_regex(self.names))
            except (OSError, ValueError) as exc:
                log.warning("no figures for the addressed queues: %s", exc)
        for q in stats:
            add("zigral_queue_messages_ready", q.ready, q.name)
            if q.unacked is not None:
                add("zigral_queue_messages_unacked", q.unacked, q.name)
            if q.consumers is not None:
                add("zigral_queue_consumers", q.consumers, q.name)
            if q.head_age is not None:
                add("zigral_queue_head_age_seconds", q.head_age, q.name)

        add("zigral_ops_scrape_seconds", time.monotonic() - started)
        yield from fams.values()
