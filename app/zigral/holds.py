"""Why a worker holds its queue (takes no commands) for a while, and when to check its site session.

Two reasons, both seen between commands, never in the middle of one:

- ``recycle``: the ops listener is restarting this VM's Chromium (ops/recycle.py). The worker stops
  consuming, finishes the command in flight, detaches from the browser and says it is drained.
- ``needs_human``: the session canary found the agent's site logged out. Commands would only fail one by
  one, so they wait in the queue (other VMs may serve them) until a person signs in through noVNC and
  the next canary sees the session back, or an operator releases the agent (``zigral resume``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import redis

from zigral.constants import Names
from zigral.state import translated

log = logging.getLogger(__name__)

RECYCLE, NEEDS_HUMAN = "recycle", "needs_human"
RECHECK_WHEN_HELD = 30.0  # seconds between canaries while waiting for a person
LOOK_EVERY = 0.25  # seconds: how stale a worker's view of the hold keys may be
FIRST_CHECK = 60.0  # seconds after start: a VM booted with a signed-out profile says so soon


class Holds:
    """One worker's view of the hold keys in Redis (constants.Names has them)."""

    def __init__(self, client: redis.Redis, names: Names, agent: str, vm_id: str, owner: str) -> None:
        self.client = client
        self.names = names
        self.agent = agent
        self.vm_id = vm_id
        self.owner = owner
        self.human_reason: str | None = None
        self._unreadable = False
        self._checked_at = -1e9
        self._recycling = False

    def reason(self) -> str | None:
        """Why to hold now, or None. A Redis outage starts no hold: the worker's own retries handle it."""
        now = time.monotonic()
        if now - self._checked_at >= LOOK_EVERY:  # between fast commands, one Redis read per LOOK_EVERY
            self._checked_at = now
            self._recycling = self._read_keys()
        if self._recycling:
            return RECYCLE
        return NEEDS_HUMAN if self.human_reason else None

    def _read_keys(self) -> bool:
        """Is a recycle under way? Also notices an operator's ``zigral resume`` (the needs-human key gone)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.exists(self.names.recycle_key(self.vm_id))
            pipe.exists(self.names.needs_human_key(self.agent, self.vm_id))
            recycling, waiting = pipe.execute()
            self._unreadable = False
        except redis.RedisError as exc:
            if not self._unreadable:  # once per outage, not every half second
                log.warning("could not read the hold keys: %s", exc)
            self._unreadable = True
            return False
        if self.human_reason and not waiting:
            self._released()
        return bool(recycling)

    def _released(self) -> None:
        log.info("%s released by an operator (zigral resume); the next canary checks again", self.agent)
        self.human_reason = None

    def restore(self) -> None:
        """At start: an earlier process of this agent on this VM found the site signed out; still so."""
        try:
            raw = self.client.get(self.names.needs_human_key(self.agent, self.vm_id))
        except redis.RedisError:
            return
        if raw:
            self.human_reason = str(json.loads(str(raw)).get("reason") or "the site session is signed out")

    @translated
    def drained(self) -> None:
        self.client.sadd(self.names.drained_key(self.vm_id), self.owner)

    def count_browser_command(self) -> None:
        try:
            self.client.incr(self.names.browser_commands_key(self.vm_id))
        except redis.RedisError as exc:
            log.warning("browser command not counted: %s", exc)

    @translated
    def need_human(self, why: str, ttl: float) -> bool:
        """Hold for a person (a new hold), or refresh the hold under way. False if an operator released it
        meanwhile (``zigral resume`` deleted the key): a refresh never undoes that."""
        key = self.names.needs_human_key(self.agent, self.vm_id)
        value = json.dumps({"reason": why, "since": time.time()})
        refresh = self.human_reason is not None
        if not self.client.set(key, value, ex=max(1, int(ttl)), xx=refresh):
            self._released()
            return False
        self.human_reason = why
        return True

    def canary_answer(self, answer: dict[str, object], ttl: float) -> str | None:
        """Record what the session canary found. Returns the agent event it calls for: ``needs_human``
        when the site just signed out, ``session_ok`` when it is back, None when nothing changed.
        Raises StateError if Redis cannot record it (the next canary tries again)."""
        held = self.human_reason is not None
        if not answer.get("logged_in"):
            why = f"{self.agent}'s site session is signed out ({answer}); sign in through noVNC"
            return NEEDS_HUMAN if self.need_human(why, ttl) and not held else None
        if held:
            self.human_done()
            return "session_ok"
        return None

    def human_done(self) -> None:
        release(self.client, self.names, self.agent, self.vm_id)
        self.human_reason = None


@translated
def release(client: redis.Redis, names: Names, agent: str, vm_id: str) -> bool:
    """End a wait for a person (the canary saw the session back, or ``zigral resume``); False if none."""
    return bool(client.delete(names.needs_human_key(agent, vm_id)))


@dataclass
class CanarySchedule:
    """Every ``interval`` seconds (every RECHECK_WHEN_HELD while a person is needed); 0 turns it off."""

    interval: float
    next_at: float = 0.0

    def __post_init__(self) -> None:
        self.next_at = time.monotonic() + min(self.interval, FIRST_CHECK)

    def due(self) -> bool:
        return self.interval > 0 and time.monotonic() >= self.next_at

    def done(self, held: bool) -> None:
        wait = min(self.interval, RECHECK_WHEN_HELD) if held else self.interval
        self.next_at = time.monotonic() + wait
