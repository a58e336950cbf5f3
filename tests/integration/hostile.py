"""A corpus of hostile command messages: every class of bad input seen so far, and variations.

Each item is (routing key, body, AMQP properties). Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hostile:
    kind: str
    routing_key: str
    body: bytes
    props: dict[str, Any] = field(default_factory=dict)


def _cmd(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"fz{i}", "agent": "lincoln", "action": "echo", "params": {"i": i}, **fields}


def _j(data: Any) -> bytes:
    return json.dumps(data).encode()


WRONG_TYPES: list[tuple[str, Any]] = [
    *((f, v) for f in ("timeout", "max_age", "created_at") for v in ("5", True, False, "1e3", [], {})),
    *(("capture", v) for v in ("true", 1, 0, None, [])),
    *(("version", v) for v in (True, "1", 1.0, None)),
    *(("priority", v) for v in (2, True, None, "urgent")),
]


def corpus(seed: int = 7, rounds: int = 40) -> Iterator[Hostile]:
    """About 30 messages per round."""
    rnd = random.Random(seed)
    n = 0

    def nxt() -> int:
        nonlocal n
        n += 1
        return n

    for _ in range(rounds):
        i = nxt()
        yield Hostile("lone surrogate escaped", "lincoln.echo", _j(_cmd(i))[:-2] + b', "s": "\\ud800"}}')
        i = nxt()
        yield Hostile(
            "lone surrogate raw",
            "lincoln.echo",
            b'{"id": "fz%d", "agent": "lincoln", "action": "echo", "params": {"s": "\xed\xa0\x80"}}' % i,
        )
        i = nxt()
        depth = rnd.randint(33, 2000)
        yield Hostile(
            "deep params",
            "lincoln.echo",
            (
                f'{{"id": "fz{i}", "agent": "lincoln", "action": "echo", '
                '"params": ' + '{"p": ' * depth + "1" + "}" * depth + "}"
            ).encode(),
        )
        nxt()
        depth = rnd.randint(500, 5000)
        yield Hostile("deep array", "lincoln.echo", b"[" * depth + b"]" * depth)
        i = nxt()
        yield Hostile(
            "utf-16",
            "lincoln.echo",
            json.dumps(_cmd(i)).encode(rnd.choice(["utf-16", "utf-32", "utf-16-be"])),
        )
        i = nxt()
        yield Hostile(
            "duplicate keys",
            "lincoln.echo",
            b'{"id": "fz%d", "agent": "lincoln", "action": "echo", "action": "navigate"}' % i,
        )
        i = nxt()
        constant = rnd.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
        field_ = rnd.choice(["created_at", "timeout", "max_age"])
        yield Hostile(
            "non-finite",
            "lincoln.echo",
            (f'{{"id": "fz{i}", "agent": "lincoln", "action": "echo", "{field_}": {constant}}}').encode(),
        )
        i = nxt()
        field_, wrong = rnd.choice(WRONG_TYPES)
        yield Hostile("wrong type", "lincoln.echo", _j(_cmd(i, **{field_: wrong})))
        i = nxt()
        yield Hostile(
            "route mismatch", rnd.choice(["lincoln.navigate", "lincoln.sleep", "lincoln.x"]), _j(_cmd(i))
        )
        i = nxt()
        yield Hostile("other agent", "lincoln.echo", _j(_cmd(i, agent="shaun")))
        i = nxt()
        yield Hostile("unknown action", "lincoln.fly", _j(_cmd(i, action="fly")))
        i = nxt()
        yield Hostile(
            "bad params", "lincoln.navigate", _j(_cmd(i, action="navigate", params={"url": 42, "x": 1}))
        )
        i = nxt()
        yield Hostile(
            "oversized", "lincoln.echo", _j(_cmd(i, params={"x": "a" * rnd.randint(262_145, 400_000)}))
        )
        i = nxt()
        yield Hostile(
            "not an object",
            "lincoln.echo",
            rnd.choice([b"[]", b"1", b'"s"', b"null", b"true"]),
            {"message_id": f"fz{i}"},
        )
        i = nxt()
        yield Hostile(
            "empty or garbage",
            "lincoln.echo",
            bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64))),
            {"message_id": f"fz{i}"},
        )
        i = nxt()
        yield Hostile("bom", "lincoln.echo", b"\xef\xbb\xbf" + _j(_cmd(i)))
        i = nxt()
        yield Hostile("huge int", "lincoln.echo", _j(_cmd(i))[:-2] + b', "n": ' + b"9" * 5000 + b"}}")
        i = nxt()
        yield Hostile("null byte", "lincoln.echo", _j(_cmd(i)).replace(b'"echo"', b'"ec\x00ho"'))
        i = nxt()
        yield Hostile(
            "bad id",
            "lincoln.echo",
            _j(_cmd(i, id=rnd.choice(["a b", "", "x" * 129, "ü", "a/b", 7]))),
            {"message_id": f"fz{i}"},
        )
        i = nxt()
        yield Hostile("key-suffix id", "lincoln.echo", _j(_cmd(i, id=f"fz{i}:history")))
        i = nxt()
        yield Hostile(
            "key-suffix id", "lincoln.echo", _j(_cmd(i, id=f"fz{i - 1}"))
        )  # owner of fz{i-1}:history
        i = nxt()
        yield Hostile(
            "no id",
            "lincoln.echo",
            _j({"agent": "lincoln", "action": "echo", "params": {"i": i}}),
            {"message_id": f"fz{i}"},
        )
        i = nxt()
        yield Hostile("future", "lincoln.echo", _j(_cmd(i, created_at=time.time() + 30 * 86400)))
        i = nxt()
        yield Hostile("too old", "lincoln.echo", _j(_cmd(i, created_at=time.time() - 7200, max_age=60)))
        i = nxt()
        yield Hostile("broker expiration", "lincoln.echo", _j(_cmd(i)), {"expiration": "1"})
        i = nxt()
        yield Hostile("invalid then valid", "lincoln.echo", _j(_cmd(i, timeout="9")))
        yield Hostile("invalid then valid", "lincoln.echo", _j(_cmd(i)), {"_same_id": True})
        i = nxt()
        yield Hostile("unroutable", rnd.choice(["nobody.echo", "zz", ""]), _j(_cmd(i)))
        i = nxt()
        yield Hostile("control echo", "lincoln.echo", _j(_cmd(i)))
        i = nxt()
        yield Hostile("version", "lincoln.echo", _j(_cmd(i, version=rnd.choice([99, 0, "1", 1.5]))))
