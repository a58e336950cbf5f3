"""``zigral agent NAME``: attach to the shared Chromium and idle (the runtime lands in a later issue)."""

from __future__ import annotations

import logging
import signal
import threading

from playwright.sync_api import sync_playwright

from zigral import probes
from zigral.config import Settings
from zigral.launch import wait_forever

log = logging.getLogger(__name__)

AGENTS = ("lincoln", "shaun")


def run_agent(name: str, settings: Settings) -> int:
    if name not in AGENTS:
        log.error("unknown agent %r; one of %s", name, ", ".join(AGENTS))
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    wait_forever(lambda: probes.cdp_version(settings.browser.cdp_port), "Chromium CDP")
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(
            settings.cdp_url, timeout=settings.browser.connect_timeout * 1000
        )
        log.info("%s attached to %s", name, browser.version)
        stop.wait()
    log.info("%s stopped", name)
    return 0
