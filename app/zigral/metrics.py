"""Every Prometheus metric of an agent, defined once, on a registry passed in.

Labels stay bounded: agent, action (only known actions; anything else is ``unknown``), outcome (a status).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        for gauge in (self.in_progress, self.broker_connected, self.browser_connected):
            gauge.labels(agent).set(0)
