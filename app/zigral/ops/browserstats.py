"""The shared Chromium seen through its DevTools endpoint: tabs, JavaScript heap and DOM size.

Each page target is asked over its own DevTools WebSocket (Chromium accepts several clients per target,
so the agents' Playwright connections are not disturbed). Only read-only methods are used.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from typing import Any, cast

import websocket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrowserStats:
    up: bool
    tabs: int = 0
    js_heap_used: int = 0
    dom_nodes: int = 0


def _call(ws: websocket.WebSocket, msg_id: int, method: str) -> dict[str, Any]:
    ws.send(json.dumps({"id": msg_id, "method": method}))
    while True:
        reply = json.loads(ws.recv())
        if reply.get("id") == msg_id:
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error'].get('message')}")
            return cast(dict[str, Any], reply["result"])


def page_counters(ws_url: str, timeout: float) -> tuple[int, int]:
    """(JS heap used, DOM nodes) of one page target."""
    ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
    try:
        heap = _call(ws, 1, "Runtime.getHeapUsage")
        dom = _call(ws, 2, "Memory.getDOMCounters")
        return int(heap["usedSize"]), int(dom["nodes"])
    finally:
        ws.close()


def browser_stats(cdp_port: int, timeout: float = 2.0) -> BrowserStats:
    """Ask Chromium on 127.0.0.1:``cdp_port``; ``up`` is False if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{cdp_port}/json/list", timeout=timeout) as resp:
            targets = json.load(resp)
    except (OSError, ValueError):
        return BrowserStats(up=False)
    pages = [t for t in targets if t.get("type") == "page"]
    heap = nodes = 0
    for target in pages:
        url = target.get("webSocketDebuggerUrl")
        if not url:
            continue
        try:
            h, n = page_counters(url, timeout)
        except (OSError, ValueError, RuntimeError, websocket.WebSocketException) as exc:
            log.debug("no counters from %s: %s", target.get("url"), exc)
            continue  # a tab closed or busy right now: counted as a tab, not in the sums
        heap += h
        nodes += n
    return BrowserStats(True, len(pages), heap, nodes)
