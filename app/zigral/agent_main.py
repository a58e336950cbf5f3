"""``zigral agent NAME``: run one agent's worker until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal

from zigral import registry
from zigral.config import Settings
from zigral.logs import setup_json_logging
from zigral.worker import Worker

log = logging.getLogger(__name__)


def run_agent(name: str, settings: Settings) -> int:
    setup_json_logging()
    if name not in settings.installed_agents():
        log.error("unknown agent %r; installed: %s", name, ", ".join(settings.installed_agents()))
        return 2
    agent = registry.agent_class(name)(settings)
    worker = Worker(settings, agent)
    signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
    signal.signal(signal.SIGINT, lambda *_: worker.request_stop())
    worker.serve_metrics()
    worker.attach_soon()
    code = worker.run()
    logging.shutdown()
    if worker.abandoned:
        os._exit(code)  # a browser call may still hang on its thread: do not wait for it
    return code
