"""Every Prometheus metric of an agent, defined once, on a registry passed in.

Labels stay bounded: agent, action (only known actions; anything else is ``unknown``), outcome (a status).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class AgentMetrics:
    """The metrics one agent exports on its loopback port."""

    def __init__(self, agent: str, registry: CollectorRegistry) -> None:
        self.agent = agent
        self.registry = registry
        self.commands = Counter(
            "zigral_commands_total",
            "Commands finished, by outcome",
            ["agent", "action", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "zigral_command_duration_seconds",
            "Time from start of work to stored result",
            ["agent", "action"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "zigral_commands_in_progress", "Commands being worked on", ["agent"], registry=registry
        )
        self.retries = Counter(
            "zigral_retries_total", "Commands sent back for a retry", ["agent"], registry=registry
        )
        self.dead_letters = Counter(
            "zigral_dead_letters_total",
            "Commands dead-lettered, by status",
            ["agent", "status"],
            registry=registry,
        )
        self.broker_connected = Gauge(
            "zigral_broker_connected", "1 while connected to RabbitMQ", ["agent"], registry=registry
        )
        self.browser_connected = Gauge(
            "zigral_browser_connected", "1 while attached to Chromium over CDP", ["agent"], registry=registry
        )
        self.browser_reconnects = Counter(
            "zigral_browser_reconnects_total",
            "Times the agent attached to Chromium again",
            ["agent"],
            registry=registry,
        )
        self.capture_bytes = Counter(
            "zigral_capture_bytes_total", "Bytes written to captures/", ["agent", "kind"], registry=registry
        )
        self.egress_denied = Counter(
            "zigral_egress_denied_total",
            "Navigations the egress proxy refused (the proxy's access log has every refused request)",
            ["agent"],
            registry=registry,
        )
        self.last_success = Gauge(
            "zigral_last_success_timestamp_seconds",
            "Unix time of the last succeeded command",
            ["agent"],
            registry=registry,
        )
        self.page_crashes = Counter(
            "zigral_browser_page_crashes_total",
            "Times the agent's work tab crashed (its renderer died)",
            ["agent"],
            registry=registry,
        )
        self.locator_misses = Counter(
            "zigral_locator_misses_total",
            "Times a site locator found nothing in real work (the site's markup may have changed)",
            ["agent", "locator"],
            registry=registry,
        )
        self.redis_wipes = Counter(
            "zigral_redis_wipes_total",
            "Times the agent found Redis without the data it had (a flush, a restart without persistence):"
            " ids already run may run again",
            ["agent"],
            registry=registry,
        )
        self.redis_wipes.labels(agent)  # exported at 0 from the start, so that an increase() alert sees 1
        self.site_logged_in = Gauge(
            "zigral_site_logged_in",
            "1 if the last session canary found the agent's site logged in, 0 if not (absent: not checked)",
            ["agent"],
            registry=registry,
        )
        self.needs_human = Gauge(
            "zigral_agent_needs_human",
            "1 while the agent holds its queue until a person signs its site in again",
            ["agent"],
            registry=registry,
        )
        self.paused = Gauge(
            "zigral_agent_paused",
            "1 while the agent takes no commands (browser recycle or a person needed)",
            ["agent"],
            registry=registry,
        )
        for gauge in (
            self.in_progress,
            self.broker_connected,
            self.browser_connected,
            self.needs_human,
            self.paused,
        ):
            gauge.labels(agent).set(0)

    def locator_miss_counts(self) -> dict[str, int]:
        """Misses per locator since the agent started (for the heartbeat and the status page)."""
        counts: dict[str, int] = {}
        for family in self.locator_misses.collect():
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("agent") == self.agent:
                    counts[sample.labels["locator"]] = int(sample.value)
        return counts


# ---------------------------------------------------------------------- the ops exporter
# The ops process (``zigral ops``, a supervisor event listener) builds these at each scrape from
# supervisor events, /proc, CDP, the VNC socket table and RabbitMQ. Labels stay bounded: program names,
# queue names, fixed states and reasons.


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "gauge" or "counter" (a counter's name ends in _total)
    help: str
    labels: tuple[str, ...] = ()

    def new(self) -> GaugeMetricFamily | CounterMetricFamily:
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=self.labels)
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


OPS_FAMILIES = {
    f.name: f
    for f in (
        # processes, from supervisor's PROCESS_STATE events
        Family("zigral_program_up", "gauge", "1 while the program is RUNNING", ("program",)),
        Family(
            "zigral_program_state",
            "gauge",
            "1 for the program's current supervisor state, 0 for the others",
            ("program", "state"),
        ),
        Family("zigral_program_state_seconds", "gauge", "Seconds in the current state", ("program",)),
        Family(
            "zigral_program_restarts_total",
            "counter",
            "Times supervisor started the program again (after an exit, a stop or a backoff)",
            ("program",),
        ),
        Family(
            "zigral_program_unexpected_exits_total",
            "counter",
            "Times the program exited when supervisor did not expect it",
            ("program",),
        ),
        Family(
            "zigral_program_crash_looping",
            "gauge",
            "1 while the program exited unexpectedly ops.crash_loop_restarts times in ops.crash_loop_window",
            ("program",),
        ),
        # resources, from /proc
        Family(
            "zigral_program_memory_pss_bytes",
            "gauge",
            "Proportional set size of the program and its children",
            ("program",),
        ),
        Family(
            "zigral_program_cpu_seconds_total",
            "counter",
            "CPU time (user + system) of the program and its live children",
            ("program",),
        ),
        Family("zigral_program_processes", "gauge", "Processes in the program's tree", ("program",)),
        Family("zigral_filesystem_size_bytes", "gauge", "Size of a filesystem the VM needs", ("mount",)),
        Family("zigral_filesystem_free_bytes", "gauge", "Free bytes of that filesystem", ("mount",)),
        Family("zigral_captures_bytes", "gauge", "Bytes under captures/ (screenshots and HTML)"),
        Family("zigral_memory_total_bytes", "gauge", "The VM's memory"),
        Family("zigral_memory_available_bytes", "gauge", "Memory available to new work without swapping"),
        # agents, from their heartbeats in Redis
        Family(
            "zigral_agent_heartbeats",
            "gauge",
            "Live heartbeats of the agent's workers on this VM (0: the agent is down or stuck)",
            ("agent",),
        ),
        # the browser, from CDP
        Family("zigral_browser_up", "gauge", "1 if Chromium's DevTools endpoint answers"),
        Family("zigral_browser_tabs", "gauge", "Open tabs (page targets)"),
        Family("zigral_browser_renderer_processes", "gauge", "Chromium renderer processes"),
        Family("zigral_browser_js_heap_used_bytes", "gauge", "JavaScript heap in use, summed over tabs"),
        Family("zigral_browser_dom_nodes", "gauge", "DOM nodes, summed over tabs"),
        Family("zigral_browser_commands_since_start", "gauge", "Browser commands since Chromium started"),
        Family(
            "zigral_browser_recycles_total",
            "counter",
            "Chromium restarts at a safe point, by reason (memory, commands, forced)",
            ("reason",),
        ),
        # the remote view, from the VNC server's sockets
        Family("zigral_vnc_clients", "gauge", "Viewers connected to the VNC server (noVNC or direct)"),
        Family("zigral_vnc_sent_bytes_total", "counter", "Bytes the VNC server sent to its viewers"),
        # queues, from RabbitMQ
        Family("zigral_queue_messages_ready", "gauge", "Commands waiting in the queue", ("queue",)),
        Family(
            "zigral_queue_messages_unacked",
            "gauge",
            "Commands delivered to an agent and not yet acknowledged",
            ("queue",),
        ),
        Family(
            "zigral_queue_head_age_seconds",
            "gauge",
            "Age of the next command the queue will deliver (from its AMQP timestamp)",
            ("queue",),
        ),
        Family("zigral_queue_consumers", "gauge", "Agents consuming the queue", ("queue",)),
        Family(
            "zigral_queue_stats_source",
            "gauge",
            "1 for where queue figures come from: management (all figures) or amqp (ready counts only)",
            ("source",),
        ),
        # the exporter itself
        Family("zigral_ops_scrape_seconds", "gauge", "Time the last scrape of this exporter took"),
    )
}
