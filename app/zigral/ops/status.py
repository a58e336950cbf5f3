"""The status page's data (``/status.json``): programs, agents, recent tasks, dead letters, the browser."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis

from zigral import fleet
from zigral.config import Settings
from zigral.constants import Names
from zigral.errors import ZigralError
from zigral.ops import queues
from zigral.ops.events import ProgramTracker
from zigral.state import TaskStore

RECENT = 12


def _capture_url(paths: list[str]) -> str | None:
    """The task's last screenshot, as nginx serves it under /captures/."""
    shots = [p for p in paths if p.endswith(".png")]
    return f"/captures/{shots[-1]}" if shots else None


def _locator_alerts(beats: list[dict[str, Any]]) -> list[str]:
    """One line per agent whose site locators missed: the site's markup may have changed."""
    lines = []
    for beat in beats:
        try:
            misses: dict[str, int] = json.loads(beat.get("locator_misses") or "{}")
        except ValueError:
            continue
        if misses:
            worst = ", ".join(
                f"{name} ({n})" for name, n in sorted(misses.items(), key=lambda kv: -kv[1])[:5]
            )
            lines.append(f"{beat.get('agent')} on {beat.get('vm_id')}: locators found nothing: {worst}")
    return lines


def status(
    settings: Settings,
    tracker: ProgramTracker,
    lock: threading.Lock,
    store: TaskStore,
    extra: dict[str, Any],
) -> dict[str, Any]:
    names = Names(settings.runtime.namespace)
    now = time.time()
    with lock:
        programs = [
            {
                "name": p.name,
                "state": p.state,
                "for_seconds": round(max(0.0, now - p.since)),
                "restarts": p.restarts,
                "crash_looping": p.crash_looping,
            }
            for p in sorted(tracker.programs.values(), key=lambda p: p.name)
        ]
        alerts = tracker.alerts[-5:]
    out: dict[str, Any] = {
        "vm_id": settings.vm_id,
        "generated_at": now,
        "programs": programs,
        "alerts": alerts,
        "agents": [],
        "recent": [],
        "dead_letters": None,
        "errors": [],
        **extra,
    }
    try:
        beats = store.heartbeats()
        human = {
            a: store.client.get(names.needs_human_key(a, settings.vm_id)) for a in settings.enabled_agents()
        }
        for beat in sorted(beats, key=lambda b: (b.get("agent", ""), b.get("vm_id", ""))):
            out["agents"].append(
                {
                    "agent": beat.get("agent"),
                    "vm_id": beat.get("vm_id"),
                    "pid": beat.get("pid"),
                    "seen_seconds_ago": round(max(0.0, now - float(beat.get("at", now))), 1),
                    "task": beat.get("task") or None,
                    "paused": beat.get("paused") or None,
                    "needs_human": human.get(str(beat.get("agent")))
                    if beat.get("vm_id") == settings.vm_id
                    else None,
                }
            )
        for record in store.recent(RECENT):
            out["recent"].append(
                {
                    "id": record.get("id"),
                    "agent": record.get("agent"),
                    "action": record.get("action"),
                    "status": record.get("status"),
                    "updated_at": record.get("updated_at"),
                    "error": (record.get("error") or None),
                    "thumbnail": _capture_url(list(record.get("captures") or [])),
                }
            )
        # Redis lost its data (a flush, a restart without persistence): ids already run may run again.
        out["redis_wiped"] = store.redis_wiped()
        if out["redis_wiped"]:
            out["alerts"].append("Redis lost its data: a command id already run may run again")
        out["alerts"].extend(_locator_alerts(beats))
    except (ZigralError, redis.RedisError) as exc:
        out["errors"].append(f"Redis: {exc}")
    out["fleet"] = fleet.view(settings, store).as_dict()  # every VM of the namespace (fleet.py)
    try:
        _source, stats = queues.queue_stats(settings, [names.dead_letter_queue])
        out["dead_letters"] = stats[0].ready if stats else 0
    except ZigralError as exc:
        out["errors"].append(f"RabbitMQ: {exc}")
    return out
