"""Submit one command to Zigral with plain pika and wait for its result (see docs/PROTOCOL.md)."""

import json
import time
import uuid

import pika

connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
channel = connection.channel()
channel.confirm_delivery()  # publisher confirms: basic_publish raises if the broker refuses

# An exclusive queue for the reply.
reply_queue = channel.queue_declare("", exclusive=True).method.queue

command = {
    "id": uuid.uuid4().hex,  # your own id makes resubmitting safe: it runs at most once
    "agent": "lincoln",
    "action": "echo",  # try "navigate" with {"url": "https://..."}
    "params": {"hello": "world"},
    "priority": "normal",
    "timeout": 60,
    "created_at": time.time(),
    "version": 1,
}
channel.basic_publish(
    exchange="zigral.commands",
    routing_key=f"{command['agent']}.{command['action']}",
    body=json.dumps(command),
    properties=pika.BasicProperties(
        content_type="application/json",
        delivery_mode=2,  # persistent
        priority=1,  # low 0, normal 1, high 2, critical 3
        reply_to=reply_queue,
        correlation_id=command["id"],
    ),
    mandatory=True,  # raises pika.exceptions.UnroutableError if no agent queue takes it
)

for _method, props, body in channel.consume(reply_queue, auto_ack=True, inactivity_timeout=120):
    if body is None:
        raise SystemExit("no result within 120 s")
    result = json.loads(body)
    if props.correlation_id == command["id"]:
        print(result["status"], result["result"] or result["error"])
        break
connection.close()
