"""Recycling Chromium at a safe point: no command lost, none failed, the profile (logins) kept.

1. Set this VM's recycle key in Redis (with a TTL, so a crashed recycler never pauses agents forever).
2. Every agent of this VM sees it between commands: it stops consuming (its prefetched delivery goes back
   to the queue), lets the command in flight finish, detaches from Chromium and adds itself to the
   drained set. Other VMs keep serving the queue meanwhile.
3. Once every live agent of the VM is drained, Chromium is restarted through supervisor (its launcher
   closes the windows over CDP first, so cookies are flushed), and the recycler waits for CDP.
4. The key is deleted: the agents consume again and attach to the new browser.

If the agents do not drain within ``ops.recycle_drain_timeout``, the recycle is called off and they resume.
"""

from __future__ import annotations

import json
import logging
import time
import xmlrpc.client
from dataclasses import dataclass

import redis

from zigral import probes, supervision
from zigral.config import Settings
from zigral.constants import Names
from zigral.errors import NotReady, StackError
from zigral.state import TaskStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecycleResult:
    done: bool
    reason: str
    detail: str
    drained_in: float = 0.0
    restarted_in: float = 0.0


class Recycler:
    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.settings = settings
        self.client = client
        self.names = Names(settings.runtime.namespace)
        self.vm = settings.vm_id
        self.store = TaskStore.from_settings(settings, client)

    def live_workers(self) -> set[str]:
        """Heartbeat keys of this VM's live workers."""
        return set(self.store.live_heartbeat_keys(vm_id=self.vm))

    def under_way(self) -> bool:
        return bool(self.client.exists(self.names.recycle_key(self.vm)))

    def commands_since_start(self) -> int:
        return int(self.client.get(self.names.browser_commands_key(self.vm)) or 0)

    def reset_command_count(self) -> None:
        """Chromium (re)started: its count of browser commands starts again from 0."""
        self.client.set(self.names.browser_commands_key(self.vm), 0)

    def due(self, chromium_pss: int | None) -> str | None:
        """Which threshold is passed (``memory`` or ``commands``), if any."""
        ops = self.settings.ops
        if ops.recycle_max_pss_mib and chromium_pss and chromium_pss > ops.recycle_max_pss_mib * 2**20:
            return "memory"
        if ops.recycle_max_commands and self.commands_since_start() >= ops.recycle_max_commands:
            return "commands"
        return None

    def recycle(self, reason: str) -> RecycleResult:
        ops = self.settings.ops
        key, drained = self.names.recycle_key(self.vm), self.names.drained_key(self.vm)
        marker = json.dumps({"reason": reason, "at": time.time()})
        ttl = int(ops.recycle_drain_timeout + 180)
        if not self.client.set(key, marker, nx=True, ex=ttl):
            return RecycleResult(False, reason, "a recycle is already under way")
        log.info("recycle (%s): pausing this VM's agents", reason)
        started = time.monotonic()
        try:
            self.client.delete(drained)
            end = started + ops.recycle_drain_timeout
            while True:
                live = self.live_workers()
                done = {str(m) for m in self.client.smembers(drained)}
                if live <= done:
                    break
                if time.monotonic() > end:
                    waiting = ", ".join(sorted(self.names.heartbeat_agent(k) for k in live - done))
                    log.error("recycle (%s) called off: %s did not drain in time", reason, waiting)
                    return RecycleResult(False, reason, f"agents did not drain in time: {waiting}")
                time.sleep(0.2)
            drained_in = time.monotonic() - started
            t0 = time.monotonic()
            try:
                supervision.call(self.settings, "stopProcess", "chromium")
                supervision.call(self.settings, "startProcess", "chromium")
                probes.wait_for(lambda: probes.cdp_version(self.settings.browser.cdp_port), "CDP", 60)
            except (OSError, xmlrpc.client.Error, StackError, NotReady) as exc:
                log.error("recycle (%s): Chromium did not come back: %s", reason, exc)
                return RecycleResult(False, reason, f"Chromium did not come back: {exc}", drained_in)
            self.reset_command_count()
            restarted_in = time.monotonic() - t0
            log.info(
                "recycle (%s) done: drained in %.1fs, Chromium back in %.1fs",
                reason,
                drained_in,
                restarted_in,
            )
            return RecycleResult(True, reason, "Chromium restarted", drained_in, restarted_in)
        finally:
            self.client.delete(key, drained)
