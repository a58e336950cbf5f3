"""One Redis round trip to start a command: is it done already, take its lock, count the attempt, record it
``running`` (record, history, recent index, events stream) and read what earlier attempts remembered.

What ``dedupe``, ``lock``, ``count_attempt`` and the ``running`` transition do one call each, in one Lua
script, atomically. A command whose action takes a quota claims only the lock here (``begin=False``): its
quota is taken before its attempt is counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

from zigral.constants import QUEUED, TERMINAL
from zigral.messages import Command, Result
from zigral.state import TaskStore, translated

# KEYS: record, lock, history, recent index, events stream.
# ARGV: owner, lock ttl ms, retention s, begin (1/0), max attempts, now, vm_id, events maxlen,
#       id, agent, action, priority, created_at, params JSON, queued, terminal statuses (space-separated).
_CLAIM = """
local rec = KEYS[1]
local st = redis.call('hmget', rec, 'status', 'invalid')
if st[1] and not st[2] and string.find(' ' .. ARGV[16] .. ' ', ' ' .. st[1] .. ' ', 1, true) then
  return {'done'}
end
if not redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local holder = redis.call('get', KEYS[2])
  if holder ~= ARGV[1] then return {'held', holder or '(expired)'} end
end
if ARGV[4] ~= '1' then return {'locked'} end
if st[2] then
  redis.call('hdel', rec, 'invalid', 'error', 'result', 'finished_at', 'attempts')
  redis.call('hset', rec, 'status', ARGV[15])
end
local n = redis.call('hincrby', rec, 'attempts', 1)
redis.call('hsetnx', rec, 'status', ARGV[15])
redis.call('hsetnx', rec, 'id', ARGV[9])
redis.call('hsetnx', rec, 'agent', ARGV[10])
redis.call('hsetnx', rec, 'action', ARGV[11])
redis.call('expire', rec, ARGV[3])
if n > tonumber(ARGV[5]) then return {'over', n, redis.call('hget', rec, 'error') or ''} end
redis.call('hset', rec, 'id', ARGV[9], 'agent', ARGV[10], 'action', ARGV[11], 'priority', ARGV[12],
  'created_at', ARGV[13], 'params', ARGV[14], 'status', 'running', 'vm_id', ARGV[7],
  'updated_at', ARGV[6], 'started_at', ARGV[6])
local vm = cjson.encode(ARGV[7])
local event = '{"id":' .. cjson.encode(ARGV[9]) .. ',"agent":' .. cjson.encode(ARGV[10]) ..
  ',"action":' .. cjson.encode(ARGV[11]) .. ',"status":"running","attempt":' .. n ..
  ',"vm_id":' .. vm .. ',"result":null,"error":null,"captures":[],"at":' .. ARGV[6] .. ',"version":1}'
redis.call('rpush', KEYS[3], '{"status":"running","at":' .. ARGV[6] .. ',"vm_id":' .. vm .. ',"error":null}')
redis.call('expire', KEYS[3], ARGV[3])
redis.call('zadd', KEYS[4], ARGV[6], ARGV[9])
redis.call('zremrangebyscore', KEYS[4], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[3]))
redis.call('xadd', KEYS[5], 'MAXLEN', '~', ARGV[8], '*', 'event', event)
local out = {'run', n}
local all = redis.call('hgetall', rec)
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 5) == 'memo:' then
    table.insert(out, string.sub(all[i], 6))
    table.insert(out, all[i + 1])
  end
end
return out
"""


_scripts: dict[int, Any] = {}  # per Redis client: the claim as a registered script (EVALSHA)


def _script(store: TaskStore) -> Any:
    script = _scripts.get(id(store.client))
    if script is None:  # the Script keeps its client alive, so the id is not reused while it is here
        script = _scripts[id(store.client)] = store.client.register_script(_CLAIM)
    return script


@dataclass
class Claim:
    """What the claim found: ``done`` (a finished id), ``held`` (by ``holder``), ``locked`` (the lock
    only), ``over`` (attempts used up; ``error`` the last one) or ``run`` (counted and running)."""

    kind: str
    attempt: int = 0
    holder: str = ""
    error: str = ""
    memo: dict[str, Any] = field(default_factory=dict)
    event: Result | None = None  # the ``running`` event, already in the stream


@translated
def claim(
    store: TaskStore,
    command: Command,
    owner: str,
    lock_ttl: float,
    vm_id: str,
    max_attempts: int,
    begin: bool,
) -> Claim:
    names = store.names
    now = repr(time.time())
    keys = [
        names.task_key(command.id),
        names.lock_key(command.id),
        names.history_key(command.id),
        names.recent_key,
        names.events_stream,
    ]
    args: list[str | int | float] = [
        owner,
        max(1, int(lock_ttl * 1000)),
        store.retention,
        1 if begin else 0,
        max_attempts,
        now,
        vm_id,
        store.events_maxlen,
        command.id,
        command.agent,
        command.action,
        command.priority,
        repr(command.created_at),
        json.dumps(command.params),
        QUEUED,
        " ".join(sorted(TERMINAL)),
    ]
    answer = cast(list[Any], _script(store)(keys=keys, args=args))
    kind = str(answer[0])
    if kind == "held":
        return Claim(kind, holder=str(answer[1]))
    if kind == "over":
        return Claim(kind, attempt=int(answer[1]), error=str(answer[2]))
    if kind != "run":
        return Claim(kind)
    attempt = int(answer[1])
    pairs = answer[2:]
    memo = {str(pairs[i]): json.loads(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    event = Result(
        id=command.id,
        agent=command.agent,
        action=command.action,
        status="running",
        attempt=attempt,
        vm_id=vm_id,
        at=float(now),
    )
    return Claim(kind, attempt=attempt, memo=memo, event=event)
