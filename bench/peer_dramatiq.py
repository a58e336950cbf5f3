"""The peer for the throughput benchmark: a dramatiq worker doing Zigral's echo with the same durability.

Persistent messages, publisher confirms, prefetch 1 (``dramatiq_queue_prefetch=1``, one thread), the result
written to Redis before dramatiq acks the message. Run by bench/run.py as
``dramatiq bench.peer_dramatiq --processes 1 --threads 1``; configured by the ``ZIGRAL_BENCH_*`` variables.
"""

from __future__ import annotations

import json
import os

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker

NAMESPACE = os.environ.get("ZIGRAL_BENCH_NS", "zbench")
QUEUE = f"{NAMESPACE}-peer"

broker = RabbitmqBroker(
    url=os.environ.get("ZIGRAL_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F"), confirm_delivery=True
)
dramatiq.set_broker(broker)
results = redis.Redis.from_url(os.environ.get("ZIGRAL_BENCH_REDIS", "redis://127.0.0.1:6379/0"))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def echo(task_id: str, params: dict[str, object]) -> None:
    # The result is stored before the worker acks the message, as Zigral does.
    results.hset(f"{NAMESPACE}:peer:{task_id}", mapping={"status": "succeeded", "result": json.dumps(params)})
