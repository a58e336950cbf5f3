"""Queue figures from RabbitMQ: ready and unacknowledged commands, consumers, and the next command's age.

RabbitMQ's management API (``rabbitmq_management``, enabled by deploy/install.sh on a local broker) has
them all. Without it, a passive declare over AMQP still gives the ready count and the consumers.

The age is the queue's ``head_message_timestamp``: the AMQP ``timestamp`` property of the next message
the queue delivers. On RabbitMQ 3.10 a priority queue reports the head of its highest non-empty
priority, so a low-priority command starved behind busier priorities is not what this age shows
(docs/OPERATIONS.md).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pika

from zigral import broker
from zigral.config import Settings, url_list

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueStats:
    name: str
    ready: int
    unacked: int | None = None
    consumers: int | None = None
    head_age: float | None = None


def management_url(settings: Settings) -> str:
    """The management API's base URL: configured, or the AMQP host on port 15672 with its credentials."""
    if settings.ops.management_url:
        return settings.ops.management_url.rstrip("/")
    params = urllib.parse.urlsplit(url_list(settings.rabbitmq.url)[0])  # a cluster's first node
    user = urllib.parse.unquote(params.username or "guest")
    password = urllib.parse.unquote(params.password or "guest")
    host = params.hostname or "127.0.0.1"
    return f"http://{urllib.parse.quote(user)}:{urllib.parse.quote(password)}@{host}:15672"


def vhost(settings: Settings) -> str:
    path = urllib.parse.urlsplit(url_list(settings.rabbitmq.url)[0]).path.lstrip("/")
    return urllib.parse.unquote(path) or "/"


def _get_json(url: str, timeout: float) -> object:
    parts = urllib.parse.urlsplit(url)
    clean = urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port or 80}"))
    req = urllib.request.Request(clean)
    if parts.username is not None:
        token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        req.add_header("Authorization", "Basic " + base64.b64encode(token.encode()).decode())
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def from_management(settings: Settings, queues: list[str], timeout: float = 3.0) -> list[QueueStats]:
    """Raises OSError (or ValueError) when the API does not answer."""
    base = management_url(settings)
    v = urllib.parse.quote(vhost(settings), safe="")
    columns = "name,messages_ready,messages_unacknowledged,consumers,head_message_timestamp"
    out = []
    now = time.time()
    for name in queues:
        url = f"{base}/api/queues/{v}/{urllib.parse.quote(name, safe='')}?columns={columns}"
        try:
            data = _get_json(url, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                continue  # not declared yet
            raise
        if not isinstance(data, dict):
            raise ValueError(f"unexpected answer for {name}")
        _require_figures(data, name)
        stamp = data.get("head_message_timestamp")
        ready = int(data.get("messages_ready") or 0)
        age = max(0.0, now - float(stamp)) if isinstance(stamp, int | float) and stamp else None
        out.append(
            QueueStats(
                name,
                ready,
                int(data.get("messages_unacknowledged") or 0),
                int(data.get("consumers") or 0),
                0.0 if ready == 0 else age,
            )
        )
    return out


def matching_from_management(settings: Settings, regex: str, timeout: float = 3.0) -> list[QueueStats]:
    """Every queue whose name matches ``regex`` (the API filters; pages of 500), e.g. all account queues
    of a namespace, including those no VM declared. Raises OSError (or ValueError) as above."""
    base = management_url(settings)
    v = urllib.parse.quote(vhost(settings), safe="")
    columns = "name,messages_ready,messages_unacknowledged,consumers,head_message_timestamp"
    out: list[QueueStats] = []
    now = time.time()
    page, pages = 1, 1
    while page <= pages:
        query = urllib.parse.urlencode(
            {"page": page, "page_size": 500, "name": regex, "use_regex": "true", "columns": columns}
        )
        data = _get_json(f"{base}/api/queues/{v}?{query}", timeout)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError("unexpected answer to a queue listing")
        pages = int(data.get("page_count") or 0)
        for item in data["items"]:
            _require_figures(item, str(item.get("name")))
            stamp = item.get("head_message_timestamp")
            ready = int(item.get("messages_ready") or 0)
            age = max(0.0, now - float(stamp)) if isinstance(stamp, int | float) and stamp else None
            unacked, consumers = item.get("messages_unacknowledged"), item.get("consumers")
            out.append(
                QueueStats(
                    str(item["name"]),
                    ready,
                    int(unacked) if unacked is not None else None,
                    int(consumers) if consumers is not None else None,
                    0.0 if ready == 0 else age,
                )
            )
        page += 1
    return out


def _require_figures(data: dict[str, object], name: str) -> None:
    """For a few seconds after a broker restart the API lists a queue without its figures: not 0 commands
    (1,000 waiting would read as none), but no answer, so that the caller asks over AMQP instead."""
    if "messages_ready" not in data:
        raise ValueError(f"the management API has no figures for {name} yet")


def from_amqp(settings: Settings, queues: list[str]) -> list[QueueStats]:
    """Ready counts and consumers by passive declares (raises BrokerError when RabbitMQ is down)."""
    conn = broker.connect(settings, heartbeat=0)
    out = []
    try:
        for name in queues:
            ch = conn.channel()
            try:
                ok = ch.queue_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                continue  # not declared yet
            out.append(QueueStats(name, ok.method.message_count, consumers=ok.method.consumer_count))
            ch.close()
    finally:
        conn.close()
    return out


def queue_stats(settings: Settings, queues: list[str]) -> tuple[str, list[QueueStats]]:
    """(source, figures): from the management API if it answers, else over AMQP."""
    try:
        return "management", from_management(settings, queues)
    except (OSError, ValueError) as exc:
        log.debug("management API unavailable (%s); ready counts only", exc)
    return "amqp", from_amqp(settings, queues)
