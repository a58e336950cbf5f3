"""The fleet: every VM of a namespace that sent a heartbeat, what each serves and does, and the queues of
commands addressed to an account or a VM (``zigral fleet``, the status page's Fleet section).

Read from Redis and RabbitMQ; the only write is forgetting what is past :data:`FORGET_AFTER`. Each worker's
heartbeat also lands in the fleet register (``Names.fleet_key``), which outlives the heartbeat itself: a VM
whose heartbeats expired (their TTL is ``runtime.heartbeat_interval`` + 1 s) is listed as ``gone`` for
:data:`FORGET_AFTER` seconds.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from zigral.config import Settings
from zigral.constants import NEEDS_HUMAN, Names
from zigral.errors import StateError, ZigralError
from zigral.holds import RECYCLE
from zigral.ops import queues
from zigral.state import TaskStore, translated

log = logging.getLogger(__name__)

FORGET_AFTER = 86400.0  # seconds a gone VM stays listed after its last heartbeat
GONE, IDLE, RUNNING, RECYCLING = "gone", "idle", "running", "recycling"
LIVE_VIEW = "vnc.html?autoconnect=1&resize=scale&reconnect=1&path=websockify"  # as the landing page opens it


@dataclass(frozen=True)
class AgentRow:
    """One agent worker of a VM, as its last heartbeat tells."""

    agent: str
    account: str | None
    state: str  # idle | running | needs_human | recycling | gone
    task: str | None
    seen_seconds_ago: float


@dataclass(frozen=True)
class QueueRow:
    """A queue of addressed commands: ``kind`` account or vm, ``address`` the account or the VM id."""

    queue: str
    agent: str
    kind: str
    address: str
    ready: int
    consumers: int | None

    @property
    def unserved(self) -> bool:
        """Commands wait and no VM takes them (the ZigralAddressedQueueUnserved alert)."""
        return self.ready > 0 and self.consumers == 0


@dataclass(frozen=True)
class VmRow:
    vm_id: str
    state: str  # gone, else the most urgent of its agents' states
    task: str | None
    seen_seconds_ago: float
    url: str | None  # the VM's live view (noVNC), from its ZIGRAL_WEB__PUBLIC_HOST
    agents: list[AgentRow]
    queues: dict[str, int | None] = field(default_factory=dict)  # "agent account" / "agent vm" -> ready


@dataclass(frozen=True)
class FleetView:
    vms: list[VmRow]
    queues: list[QueueRow]
    queue_source: str  # management | amqp | none
    generated_at: float
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for row, data in zip(self.queues, out["queues"], strict=True):
            data["unserved"] = row.unserved
        return out


def agent_state(beat: dict[str, Any], alive: bool) -> str:
    if not alive:
        return GONE
    paused = beat.get("paused") or ""
    if paused == NEEDS_HUMAN:
        return NEEDS_HUMAN
    if paused == RECYCLE:
        return RECYCLING
    return RUNNING if beat.get("task") else IDLE


# The order in which an agent's state speaks for its whole VM.
_URGENCY = (NEEDS_HUMAN, RECYCLING, RUNNING, IDLE, GONE)


def build(
    beats: list[dict[str, Any]], live_keys: set[str], stats: list[queues.QueueStats], names: Names, now: float
) -> tuple[list[VmRow], list[QueueRow]]:
    """The rows, from the register's last beats, the live heartbeat keys and the addressed queues' figures."""
    rows = [r for r in (queue_row(s, names) for s in stats) if r is not None]
    ready = {(r.agent, r.kind, r.address): r.ready for r in rows}
    by_vm: dict[str, list[dict[str, Any]]] = {}
    for beat in beats:
        by_vm.setdefault(str(beat.get("vm_id")), []).append(beat)
    vms = []
    for vm_id, vm_beats in sorted(by_vm.items()):
        agents = []
        depths: dict[str, int | None] = {}
        for beat in sorted(vm_beats, key=lambda b: str(b.get("agent"))):
            agent, account = str(beat.get("agent")), beat.get("account")
            state = agent_state(beat, beat.get("key") in live_keys)
            seen = round(max(0.0, now - float(beat.get("at", 0))), 1)
            agents.append(AgentRow(agent, account, state, beat.get("task") or None, seen))
            if account:
                depths[f"{agent} {account}"] = ready.get((agent, "acct", account))
            depths[f"{agent} vm"] = ready.get((agent, "vm", vm_id))
        state = min((a.state for a in agents), key=_URGENCY.index)
        task = next((a.task for a in agents if a.state == RUNNING), None)
        url = next((b.get("url") for b in vm_beats if b.get("url")), None)
        seen = min(a.seen_seconds_ago for a in agents)
        vms.append(VmRow(vm_id, state, task, seen, live_view(url), agents, depths))
    return vms, rows


def live_view(url: str | None) -> str | None:
    """The noVNC page of a VM whose web front is at ``url`` (ending in ``/``)."""
    return f"{url.rstrip('/')}/{LIVE_VIEW}" if url else None


def queue_row(stats: queues.QueueStats, names: Names) -> QueueRow | None:
    """``<ns>.<agent>.acct.<account>`` or ``<ns>.<agent>.vm.<vm_id>`` as a row; None for any other queue."""
    match = _addressed(names).match(stats.name)
    if match is None:
        return None
    agent, kind, address = match.groups()
    return QueueRow(stats.name, agent, kind, address, stats.ready, stats.consumers)


def _addressed(names: Names) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(names.namespace)}\.([^.]+)\.(acct|vm)\.(.+)$")


def addressed_regex(names: Names) -> str:
    """The management API filter for every addressed queue of a namespace (not their retry queues)."""
    return rf"^{re.escape(names.namespace)}\.[^.]+\.(acct|vm)\."


@translated
def register(store: TaskStore, now: float | None = None) -> list[dict[str, Any]]:
    """The last heartbeat of every VM's agent, forgetting those older than :data:`FORGET_AFTER`."""
    now = time.time() if now is None else now
    raw = cast(dict[str, str], store.client.hgetall(store.names.fleet_key))
    beats, stale = [], []
    for name, text in raw.items():
        try:
            beat = json.loads(text)
        except ValueError:
            stale.append(name)
            continue
        if not isinstance(beat, dict) or now - float(beat.get("at", 0)) > FORGET_AFTER:
            stale.append(name)
            continue
        beats.append(beat)
    if stale:
        store.client.hdel(store.names.fleet_key, *stale)
    return beats


def addressed_stats(
    settings: Settings, names: Names, beats: list[dict[str, Any]]
) -> tuple[str, list[queues.QueueStats]]:
    """Figures of every addressed queue: from the management API (all of them, also an account no VM ever
    served), else by passive declares of those the register knows."""
    try:
        return "management", queues.matching_from_management(settings, addressed_regex(names))
    except (OSError, ValueError) as exc:
        log.debug("management API unavailable (%s); addressed queues known to the register only", exc)
    known: set[str] = set()
    for beat in beats:
        agent = str(beat.get("agent"))
        if beat.get("account"):
            known.add(names.account_queue(agent, str(beat["account"])))
        known.add(names.vm_queue(agent, str(beat.get("vm_id"))))
    return "amqp", queues.from_amqp(settings, sorted(known))


def view(settings: Settings, store: TaskStore) -> FleetView:
    """The whole fleet now; what cannot be read (Redis, RabbitMQ) is named in ``errors``."""
    names = store.names
    now = time.time()
    errors: list[str] = []
    beats: list[dict[str, Any]] = []
    live: set[str] = set()
    try:
        beats = register(store, now)
        live = set(store.live_heartbeat_keys())
    except StateError as exc:
        errors.append(f"Redis: {exc}")
    source, stats = "none", list[queues.QueueStats]()
    try:
        source, stats = addressed_stats(settings, names, beats)
    except ZigralError as exc:
        errors.append(f"RabbitMQ: {exc}")
    vms, rows = build(beats, live, stats, names, now)
    return FleetView(vms, rows, source, now, errors)


def format_table(fleet: FleetView) -> str:
    """``zigral fleet``: a VM per line, then the addressed queues that hold commands."""
    lines = [f"{'VM':<20} {'STATE':<22} {'SEEN':>7}  {'AGENTS (account)':<40} {'QUEUED':<28} LIVE VIEW"]
    for vm in fleet.vms:
        state = vm.state + (f" {vm.task}" if vm.task else "")
        agents = ", ".join(f"{a.agent} ({a.account})" if a.account else a.agent for a in vm.agents)
        queued = ", ".join(f"{k}: {'?' if v is None else v}" for k, v in vm.queues.items())
        seen = f"{vm.seen_seconds_ago:.0f}s"
        lines.append(f"{vm.vm_id:<20} {state:<22} {seen:>7}  {agents:<40} {queued:<28} {vm.url or '-'}")
    if not fleet.vms:
        lines.append("(no VM has sent a heartbeat in this namespace)")
    waiting = [q for q in fleet.queues if q.ready]
    if waiting:
        lines.append("")
        lines.append(f"{'ADDRESSED QUEUE':<48} {'READY':>6} {'CONSUMERS':>9}")
        for q in waiting:
            consumers = "?" if q.consumers is None else str(q.consumers)
            flag = "  <- no VM serves it" if q.unserved else ""
            lines.append(f"{q.queue:<48} {q.ready:>6} {consumers:>9}{flag}")
    lines.extend(f"error: {e}" for e in fleet.errors)
    return "\n".join(lines)
